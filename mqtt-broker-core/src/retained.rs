//! The retained-message store: one message per topic, found by topic filter.
//!
//! A [`RetainedStore`] is a trie over topic-name levels. Matching a filter walks it: a
//! literal level descends directly, `+` visits every child, `#` the whole subtree, so the
//! cost follows the filter and the matches, not the number of retained topics. As in the
//! subscription trie, every walk is iterative, because peers choose the depth.

use core::fmt;
use std::collections::HashMap;

use foldhash::fast::FixedState;
use mqtt_proto::{TopicFilter, TopicName};

/// Retained messages, at most one per topic [MQTT-3.3.1-5].
///
/// `M` is the broker's message type, typically an `Arc` shared with the deliveries. Topic
/// levels are hashed with a hasher keyed from the seed given to [`new`](Self::new),
/// because peers choose them. A retained message with an empty payload deletes the one of
/// its topic [MQTT-3.3.1-6]: the broker calls [`remove`](Self::remove) for it.
///
/// ```
/// use mqtt_broker_core::RetainedStore;
/// use mqtt_proto::{TopicFilter, TopicName};
///
/// let mut retained = RetainedStore::new(7);
/// retained.set(&TopicName::from_static("sport/tennis/player1"), 1);
/// retained.set(&TopicName::from_static("sport/golf"), 2);
/// retained.set(&TopicName::from_static("$SYS/uptime"), 3);
///
/// let mut found = Vec::new();
/// retained.for_each_match(&TopicFilter::from_static("sport/+/player1"), |topic, m| {
///     found.push((topic.as_str(), *m));
/// });
/// assert_eq!(found, [("sport/tennis/player1", 1)]);
///
/// let mut all = 0;
/// retained.for_each_match(&TopicFilter::from_static("#"), |_, _| all += 1);
/// assert_eq!(all, 2, "`#` does not match `$SYS/uptime` [MQTT-4.7.2-1]");
/// ```
pub struct RetainedStore<M> {
    root: Node<M>,
    hasher: FixedState,
    len: usize,
}

/// A trie node: the message retained on the topic ending here, and the child levels.
struct Node<M> {
    children: HashMap<Box<str>, Box<Self>, FixedState>,
    entry: Option<(TopicName, M)>,
}

impl<M> RetainedStore<M> {
    /// An empty store whose hash maps are keyed from `seed` (take it from a random source:
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

    /// Number of retained messages.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no message is retained.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Retains `msg` for `topic`, replacing the message retained there [MQTT-3.3.1-5].
    /// Returns the replaced message.
    pub fn set(&mut self, topic: &TopicName, msg: M) -> Option<M> {
        // Retained topics are often updated in place: then no level key is allocated.
        if let Some(node) = self.root.find_mut(topic) {
            let replaced = node.entry.replace((topic.clone(), msg)).map(|(_, m)| m);
            if replaced.is_none() {
                self.len += 1;
            }
            return replaced;
        }
        let hasher = &self.hasher;
        let mut node = &mut self.root;
        for level in topic.levels() {
            node = node.child_or_insert(level, hasher);
        }
        let replaced = node.entry.replace((topic.clone(), msg)).map(|(_, m)| m);
        if replaced.is_none() {
            self.len += 1;
        }
        replaced
    }

    /// The message retained for `topic`.
    #[must_use]
    pub fn get(&self, topic: &TopicName) -> Option<&M> {
        let mut node = &self.root;
        for level in topic.levels() {
            node = node.children.get(level)?;
        }
        node.entry.as_ref().map(|(_, m)| m)
    }

    /// Deletes the message retained for `topic` and returns it. Nodes left without a message
    /// or children are freed, so the store does not grow with churn.
    pub fn remove(&mut self, topic: &TopicName) -> Option<M> {
        let node = self.root.find_mut(topic)?;
        let (_, removed) = node.entry.take()?;
        self.len -= 1;
        if node.children.is_empty() {
            self.prune(topic);
        }
        Some(removed)
    }

    /// Calls `f` with every retained message whose topic matches `filter`, with its topic.
    ///
    /// `+` and `#` match one and any number of levels, `#` also its parent level, and
    /// wildcards in the first level do not match topics starting with `$` [MQTT-4.7.2-1].
    /// A shared filter matches with its filter proper (the broker never sends retained
    /// messages for shared subscriptions, but this is not the place to decide it). The
    /// order of the calls is unspecified, but the same for the same seed and history.
    pub fn for_each_match<'a>(
        &'a self,
        filter: &TopicFilter,
        mut f: impl FnMut(&'a TopicName, &'a M),
    ) {
        // (node, the filter's remaining levels or `None` when all are consumed, whether
        // `node` is the root: the `$` rule applies to its children).
        let mut pending: Vec<(&'a Node<M>, Option<&str>, bool)> =
            vec![(&self.root, Some(filter.filter()), true)];
        // Subtrees matched by `#` as a whole.
        let mut subtrees: Vec<&'a Node<M>> = Vec::new();
        while let Some((node, rest, root)) = pending.pop() {
            let Some(rest) = rest else {
                node.emit(&mut f);
                continue;
            };
            let (level, rest) = match rest.split_once('/') {
                Some((level, rest)) => (level, Some(rest)),
                None => (rest, None),
            };
            // [MQTT-4.7.2-1]: a wildcard in the first level skips `$` topics.
            let visible = |name: &str| !(root && name.starts_with('$'));
            match level {
                "#" => {
                    // `#` matches the parent level too (`sport/#` matches `sport`).
                    node.emit(&mut f);
                    subtrees.extend(
                        node.children
                            .iter()
                            .filter(|(name, _)| visible(name))
                            .map(|(_, child)| &**child),
                    );
                }
                "+" => pending.extend(
                    node.children
                        .iter()
                        .filter(|(name, _)| visible(name))
                        .map(|(_, child)| (&**child, rest, false)),
                ),
                _ => {
                    if let Some(child) = node.children.get(level) {
                        pending.push((child, rest, false));
                    }
                }
            }
        }
        while let Some(node) = subtrees.pop() {
            node.emit(&mut f);
            subtrees.extend(node.children.values().map(|child| &**child));
        }
    }

    /// Calls `f` with every retained message, `$` topics included, with its topic; the
    /// order is unspecified (for snapshots and persistence).
    pub fn for_each<'a>(&'a self, mut f: impl FnMut(&'a TopicName, &'a M)) {
        let mut stack = vec![&self.root];
        while let Some(node) = stack.pop() {
            node.emit(&mut f);
            stack.extend(node.children.values().map(|child| &**child));
        }
    }

    /// Keeps only the messages for which `keep` returns true (for example, drops the
    /// expired ones), freeing the nodes left empty.
    pub fn retain(&mut self, mut keep: impl FnMut(&TopicName, &M) -> bool) {
        let mut doomed = Vec::new();
        self.for_each(|topic, m| {
            if !keep(topic, m) {
                doomed.push(topic.clone());
            }
        });
        for topic in &doomed {
            self.remove(topic);
        }
    }

    /// Frees the nodes of `topic` that hold nothing any more (its own node is empty): below
    /// the deepest ancestor that holds something else, the path is cut off.
    fn prune(&mut self, topic: &TopicName) {
        let mut node = &self.root;
        let mut keep = 0_usize;
        for (depth, level) in topic.levels().enumerate() {
            if depth > 0 && (node.entry.is_some() || node.children.len() > 1) {
                keep = depth;
            }
            match node.children.get(level) {
                Some(child) => node = child,
                None => return,
            }
        }
        let mut levels = topic.levels();
        let mut node = &mut self.root;
        for level in levels.by_ref().take(keep) {
            match node.children.get_mut(level) {
                Some(child) => node = child,
                None => return,
            }
        }
        if let Some(level) = levels.next() {
            drop(node.children.remove(level));
        }
    }

    /// Number of trie nodes besides the root.
    #[cfg(test)]
    fn node_count(&self) -> usize {
        let mut count = 0;
        let mut stack = vec![&self.root];
        while let Some(node) = stack.pop() {
            count += node.children.len();
            stack.extend(node.children.values().map(|child| &**child));
        }
        count
    }
}

impl<M> fmt::Debug for RetainedStore<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetainedStore")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl<M> Node<M> {
    fn new(hasher: &FixedState) -> Self {
        Self {
            children: HashMap::with_hasher(hasher.clone()),
            entry: None,
        }
    }

    fn find_mut(&mut self, topic: &TopicName) -> Option<&mut Self> {
        let mut node = self;
        for level in topic.levels() {
            node = node.children.get_mut(level)?;
        }
        Some(node)
    }

    fn child_or_insert(&mut self, level: &str, hasher: &FixedState) -> &mut Self {
        self.children
            .entry(level.into())
            .or_insert_with(|| Box::new(Self::new(hasher)))
    }

    fn emit<'a>(&'a self, f: &mut impl FnMut(&'a TopicName, &'a M)) {
        if let Some((topic, m)) = &self.entry {
            f(topic, m);
        }
    }
}

impl<M> Drop for Node<M> {
    /// Iterative, so that a deep trie cannot overflow the stack. The stack holds boxes so
    /// that a wide node moves pointers, not nodes.
    fn drop(&mut self) {
        if self.children.is_empty() {
            return;
        }
        let mut stack: Vec<Box<Self>> = self.children.drain().map(|(_, c)| c).collect();
        while let Some(mut node) = stack.pop() {
            stack.extend(node.children.drain().map(|(_, c)| c));
        }
    }
}

#[cfg(test)]
mod tests;
