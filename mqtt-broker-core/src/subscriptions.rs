//! The subscription trie: which subscriptions match a topic.
//!
//! A [`SubscriptionTree`] is a trie over topic-filter levels. Each node has a map of
//! literal child levels, a separate `+` child and a `#` slot, so matching a topic walks at
//! most two branches per topic level (the literal one and `+`) and collects the `#`
//! subscriptions of every node it passes: the cost depends on the depth of the topic and
//! on the number of matching subscriptions, not on how many subscriptions exist.
//!
//! Every walk is iterative (an explicit stack, and an iterative `Drop`), because filters
//! and topics are chosen by peers and may have tens of thousands of levels: recursion would
//! let a peer overflow the stack.

use core::fmt;
use std::collections::{BTreeMap, HashMap, btree_map};

use foldhash::fast::FixedState;
use mqtt_proto::TopicFilter;

/// The subscriptions of all clients, indexed for matching topics against them.
///
/// `K` identifies a client (a session key), `V` is the data of one subscription (its
/// options). A client has at most one subscription per topic filter: subscribing again
/// replaces it [MQTT-3.8.4-3]. A shared subscription `$share/{group}/{filter}` joins the
/// group `{group}` of `{filter}`; each group is reported as a whole by
/// [`for_each_match`](Self::for_each_match) so that the caller can pick one member.
///
/// Child levels are hashed with a hasher keyed from the seed given to
/// [`new`](Self::new), because peers choose them.
///
/// ```
/// use mqtt_broker_core::{Match, SubscriptionTree};
/// use mqtt_proto::TopicFilter;
///
/// let mut subs = SubscriptionTree::new(7);
/// subs.insert(&TopicFilter::from_static("sport/+/player1"), 1_u32, "qos1");
/// subs.insert(&TopicFilter::from_static("$share/g/sport/#"), 2, "qos0");
/// subs.insert(&TopicFilter::from_static("$share/g/sport/#"), 3, "qos2");
///
/// let mut clients = Vec::new();
/// let mut groups = Vec::new();
/// subs.for_each_match("sport/tennis/player1", |m| match m {
///     Match::Client { client, value } => clients.push((client, *value)),
///     Match::Group { group, members, .. } => {
///         groups.push((group.to_owned(), members.map(|(k, _)| k).collect::<Vec<_>>()))
///     }
/// });
/// assert_eq!(clients, [(1, "qos1")]);
/// assert_eq!(groups, [("g".to_owned(), vec![2, 3])]);
/// ```
pub struct SubscriptionTree<K, V> {
    root: Node<K, V>,
    hasher: FixedState,
    len: usize,
}

/// One subscription, or one shared-subscription group, that matches a topic; given by
/// [`SubscriptionTree::for_each_match`].
#[derive(Debug)]
pub enum Match<'a, K, V> {
    /// A non-shared subscription of `client`.
    Client {
        /// The subscribing client.
        client: K,
        /// The subscription's data.
        value: &'a V,
    },
    /// A shared-subscription group with at least one member. The message goes to one of
    /// its members [MQTT-4.8.2-2].
    Group {
        /// The share name.
        group: &'a str,
        /// The group's filter as subscribed, `$share/{group}/{filter}`: its string
        /// identifies the group (share name and filter) uniquely, for example as the key
        /// of a round-robin position.
        filter: &'a TopicFilter,
        /// The members and their subscriptions, in ascending order of `K`.
        members: GroupMembers<'a, K, V>,
    },
}

/// The members of a shared-subscription group, in ascending order of client key: `(client,
/// &subscription)`.
pub struct GroupMembers<'a, K, V> {
    inner: btree_map::Iter<'a, K, V>,
}

impl<'a, K: Copy, V> Iterator for GroupMembers<'a, K, V> {
    type Item = (K, &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        self.inner.next().map(|(k, v)| (*k, v))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl<K: Copy, V> ExactSizeIterator for GroupMembers<'_, K, V> {}

impl<K, V> Clone for GroupMembers<'_, K, V> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for GroupMembers<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.inner.clone()).finish()
    }
}

/// A trie node: the subscriptions whose filter ends here, those whose filter ends with a
/// `#` just below, and the children.
struct Node<K, V> {
    /// Literal child levels (never `+` or `#`).
    children: HashMap<Box<str>, Box<Self>, FixedState>,
    /// The `+` child.
    plus: Option<Box<Self>>,
    /// Filters ending at this node.
    exact: Subs<K, V>,
    /// Filters ending with `/#` below this node (or `#` alone, on the root).
    multi: Subs<K, V>,
}

/// The subscriptions of one filter position.
struct Subs<K, V> {
    clients: BTreeMap<K, V>,
    /// Shared groups, keyed by their whole filter (`$share/{group}/...`): within one node
    /// the filter proper is the same for all, so this orders them by share name.
    groups: BTreeMap<TopicFilter, BTreeMap<K, V>>,
}

/// Where a filter lives in the trie: the levels leading to its node (`None`: the root) and
/// whether it ends with `#`.
struct Path<'f> {
    prefix: Option<&'f str>,
    multi: bool,
}

impl<'f> Path<'f> {
    fn of(filter: &'f TopicFilter) -> Self {
        let filter = filter.filter();
        if filter == "#" {
            Self {
                prefix: None,
                multi: true,
            }
        } else if let Some(prefix) = filter.strip_suffix("/#") {
            Self {
                prefix: Some(prefix),
                multi: true,
            }
        } else {
            Self {
                prefix: Some(filter),
                multi: false,
            }
        }
    }

    fn levels(&self) -> impl Iterator<Item = &'f str> + Clone + use<'f> {
        self.prefix.into_iter().flat_map(|p| p.split('/'))
    }
}

impl<K: Copy + Ord, V> SubscriptionTree<K, V> {
    /// An empty tree whose hash maps are keyed from `seed` (take it from a random source:
    /// peers choose the topic levels).
    #[must_use]
    pub fn new(seed: u64) -> Self {
        let hasher = FixedState::with_seed(seed);
        Self {
            root: Node::new(&hasher),
            hasher,
            len: 0,
        }
    }

    /// Number of subscriptions, shared ones included.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there is no subscription.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds the subscription of `client` to `filter`, or replaces it: a client that
    /// subscribes again to the same filter replaces its subscription [MQTT-3.8.4-3]. A
    /// shared filter `$share/{group}/{filter}` makes `client` a member of that group.
    ///
    /// Returns the replaced subscription's value.
    pub fn insert(&mut self, filter: &TopicFilter, client: K, value: V) -> Option<V> {
        let path = Path::of(filter);
        let hasher = &self.hasher;
        let mut node = &mut self.root;
        for level in path.levels() {
            node = node.child_or_insert(level, hasher);
        }
        let subs = node.subs_mut(path.multi);
        let replaced = match filter.is_shared() {
            false => subs.clients.insert(client, value),
            true => subs
                .groups
                .entry(filter.clone())
                .or_default()
                .insert(client, value),
        };
        if replaced.is_none() {
            self.len += 1;
        }
        replaced
    }

    /// The subscription of `client` to `filter`, if it has one.
    #[must_use]
    pub fn get(&self, filter: &TopicFilter, client: K) -> Option<&V> {
        let path = Path::of(filter);
        let mut node = &self.root;
        for level in path.levels() {
            node = node.child(level)?;
        }
        node.subs(path.multi).get(filter, client)
    }

    /// Removes the subscription of `client` to `filter` and returns its value. Nodes left
    /// without subscriptions or children are freed, so the tree does not grow with
    /// subscription churn.
    pub fn remove(&mut self, filter: &TopicFilter, client: K) -> Option<V> {
        let path = Path::of(filter);
        let mut node = &mut self.root;
        let mut depth = 0_usize;
        for level in path.levels() {
            node = node.child_mut(level)?;
            depth += 1;
        }
        let removed = node.subs_mut(path.multi).remove(filter, client)?;
        self.len -= 1;
        if depth > 0 && node.is_empty() {
            self.prune(&path);
        }
        Some(removed)
    }

    /// Calls `f` for every subscription that matches `topic` (a valid Topic Name): each
    /// non-shared subscription as [`Match::Client`], each shared group with a matching
    /// filter as one [`Match::Group`]. Each subscription is reported at most once; a client
    /// with several matching filters is reported once per filter.
    ///
    /// `+` and `#` match one and any number of levels, `#` also its parent level
    /// (`sport/#` matches `sport`), and wildcards in the first level of a filter do not
    /// match a topic starting with `$` [MQTT-4.7.2-1].
    ///
    /// The order of the calls is unspecified, but the same for the same seed and history;
    /// the cost depends on the topic's depth and the number of matches only.
    pub fn for_each_match<'a>(&'a self, topic: &str, mut f: impl FnMut(Match<'a, K, V>)) {
        let (first, rest) = split_level(topic);
        let mut stack: Vec<(&'a Node<K, V>, Option<&str>)> = Vec::new();
        if !topic.starts_with('$') {
            // [MQTT-4.7.2-1]: only for topics that do not start with `$`.
            self.root.multi.emit(&mut f);
            if let Some(plus) = &self.root.plus {
                stack.push((plus, rest));
            }
        }
        if let Some(child) = self.root.children.get(first) {
            stack.push((child, rest));
        }
        while let Some((node, rest)) = stack.pop() {
            node.multi.emit(&mut f);
            let Some(rest) = rest else {
                node.exact.emit(&mut f);
                continue;
            };
            let (level, rest) = split_level(rest);
            if let Some(child) = node.children.get(level) {
                stack.push((child, rest));
            }
            if let Some(plus) = &node.plus {
                stack.push((plus, rest));
            }
        }
    }

    /// Frees the nodes on `path` that hold nothing any more: below the deepest node that
    /// still holds something else, the path is cut off.
    fn prune(&mut self, path: &Path<'_>) {
        // Find where to cut: the deepest ancestor of the emptied node that keeps other
        // content (or the root), and the level below it.
        let mut node = &self.root;
        let mut keep = 0_usize;
        for (depth, level) in path.levels().enumerate() {
            if depth > 0 && node.is_busy() {
                keep = depth;
            }
            match node.child(level) {
                Some(child) => node = child,
                None => return,
            }
        }
        let mut levels = path.levels();
        let mut node = &mut self.root;
        for level in levels.by_ref().take(keep) {
            match node.child_mut(level) {
                Some(child) => node = child,
                None => return,
            }
        }
        if let Some(level) = levels.next() {
            drop(node.take_child(level));
        }
    }

    /// Number of trie nodes besides the root.
    #[cfg(test)]
    fn node_count(&self) -> usize {
        let mut count = 0;
        let mut stack = vec![&self.root];
        while let Some(node) = stack.pop() {
            let children = node.children.values().chain(&node.plus);
            count += children.clone().count();
            stack.extend(children.map(|c| &**c));
        }
        count
    }
}

impl<K, V> fmt::Debug for SubscriptionTree<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubscriptionTree")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

/// Splits off the first level of a topic: `(level, rest)`, `rest` is `None` after the last
/// level.
fn split_level(topic: &str) -> (&str, Option<&str>) {
    match topic.split_once('/') {
        Some((level, rest)) => (level, Some(rest)),
        None => (topic, None),
    }
}

impl<K: Copy + Ord, V> Node<K, V> {
    fn new(hasher: &FixedState) -> Self {
        Self {
            children: HashMap::with_hasher(hasher.clone()),
            plus: None,
            exact: Subs::default(),
            multi: Subs::default(),
        }
    }

    fn child(&self, level: &str) -> Option<&Self> {
        match level {
            "+" => self.plus.as_deref(),
            _ => self.children.get(level).map(|c| &**c),
        }
    }

    fn child_mut(&mut self, level: &str) -> Option<&mut Self> {
        match level {
            "+" => self.plus.as_deref_mut(),
            _ => self.children.get_mut(level).map(|c| &mut **c),
        }
    }

    fn child_or_insert(&mut self, level: &str, hasher: &FixedState) -> &mut Self {
        match level {
            "+" => self.plus.get_or_insert_with(|| Box::new(Self::new(hasher))),
            // Subscribing is not the hot path: the key is allocated even when it exists.
            _ => self
                .children
                .entry(level.into())
                .or_insert_with(|| Box::new(Self::new(hasher))),
        }
    }

    fn take_child(&mut self, level: &str) -> Option<Box<Self>> {
        match level {
            "+" => self.plus.take(),
            _ => self.children.remove(level),
        }
    }

    fn subs(&self, multi: bool) -> &Subs<K, V> {
        if multi { &self.multi } else { &self.exact }
    }

    fn subs_mut(&mut self, multi: bool) -> &mut Subs<K, V> {
        if multi {
            &mut self.multi
        } else {
            &mut self.exact
        }
    }

    /// Whether the node holds nothing.
    fn is_empty(&self) -> bool {
        self.children.is_empty()
            && self.plus.is_none()
            && self.exact.is_empty()
            && self.multi.is_empty()
    }

    /// Whether the node holds more than one child: it stays when one child goes.
    fn is_busy(&self) -> bool {
        !self.exact.is_empty()
            || !self.multi.is_empty()
            || self.children.len() + usize::from(self.plus.is_some()) > 1
    }
}

impl<K, V> Drop for Node<K, V> {
    /// Iterative, so that a deep trie cannot overflow the stack. The stack holds boxes so
    /// that a wide node moves pointers, not nodes.
    fn drop(&mut self) {
        if self.children.is_empty() && self.plus.is_none() {
            return;
        }
        let mut stack: Vec<Box<Self>> = self.children.drain().map(|(_, c)| c).collect();
        stack.extend(self.plus.take());
        while let Some(mut node) = stack.pop() {
            stack.extend(node.children.drain().map(|(_, c)| c));
            stack.extend(node.plus.take());
        }
    }
}

impl<K, V> Default for Subs<K, V> {
    fn default() -> Self {
        Self {
            clients: BTreeMap::new(),
            groups: BTreeMap::new(),
        }
    }
}

impl<K: Copy + Ord, V> Subs<K, V> {
    fn is_empty(&self) -> bool {
        self.clients.is_empty() && self.groups.is_empty()
    }

    fn get(&self, filter: &TopicFilter, client: K) -> Option<&V> {
        match filter.is_shared() {
            false => self.clients.get(&client),
            true => self.groups.get(filter)?.get(&client),
        }
    }

    fn remove(&mut self, filter: &TopicFilter, client: K) -> Option<V> {
        if !filter.is_shared() {
            return self.clients.remove(&client);
        }
        let members = self.groups.get_mut(filter)?;
        let removed = members.remove(&client);
        if members.is_empty() {
            self.groups.remove(filter);
        }
        removed
    }

    fn emit<'a>(&'a self, f: &mut impl FnMut(Match<'a, K, V>)) {
        for (&client, value) in &self.clients {
            f(Match::Client { client, value });
        }
        for (filter, members) in &self.groups {
            f(Match::Group {
                group: filter.share_group().unwrap_or_default(),
                filter,
                members: GroupMembers {
                    inner: members.iter(),
                },
            });
        }
    }
}

#[cfg(test)]
mod tests;
