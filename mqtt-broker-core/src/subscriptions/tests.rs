use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

fn filter(s: &str) -> TopicFilter {
    match TopicFilter::try_from(s) {
        Ok(f) => f,
        Err(e) => panic!("invalid filter {s:?}: {e}"),
    }
}

/// Non-shared matches as sorted `(client, value)`, shared groups as sorted `(filter,
/// members)`.
type Matches = (Vec<(u32, u32)>, Vec<(String, Vec<(u32, u32)>)>);

fn matches(tree: &SubscriptionTree<u32, u32>, topic: &str) -> Matches {
    let mut clients = Vec::new();
    let mut groups = Vec::new();
    tree.for_each_match(topic, |m| match m {
        Match::Client { client, value } => clients.push((client, *value)),
        Match::Group {
            group,
            filter,
            members,
        } => {
            assert_eq!(filter.share_group(), Some(group));
            assert_ne!(members.len(), 0, "a group is reported only with members");
            groups.push((
                filter.as_str().to_owned(),
                members.map(|(k, v)| (k, *v)).collect(),
            ));
        }
    });
    clients.sort_unstable();
    groups.sort_unstable();
    (clients, groups)
}

/// The clients (one per filter, numbered in order) whose filter matches `topic`.
fn matching_clients(filters: &[&str], topic: &str) -> Vec<u32> {
    let mut tree = SubscriptionTree::new(1);
    for (i, f) in (0_u32..).zip(filters) {
        tree.insert(&filter(f), i, i);
    }
    let (clients, groups) = matches(&tree, topic);
    assert!(groups.is_empty());
    clients.into_iter().map(|(c, _)| c).collect()
}

// Section 4.7.1.2: `#` matches any number of levels, including the parent level.
#[test]
fn multi_level_wildcard_spec_examples() {
    let filters = ["sport/tennis/player1/#", "sport/#", "#", "sport/tennis/#"];
    assert_eq!(
        matching_clients(&filters, "sport/tennis/player1"),
        [0, 1, 2, 3]
    );
    assert_eq!(
        matching_clients(&filters, "sport/tennis/player1/ranking"),
        [0, 1, 2, 3]
    );
    assert_eq!(
        matching_clients(&filters, "sport/tennis/player1/score/wimbledon"),
        [0, 1, 2, 3]
    );
    assert_eq!(matching_clients(&filters, "sport"), [1, 2]);
    assert_eq!(matching_clients(&filters, "sport/tennis"), [1, 2, 3]);
    assert_eq!(matching_clients(&filters, "other"), [2]);
}

// Section 4.7.1.3: `+` matches exactly one level, which may be empty.
#[test]
fn single_level_wildcard_spec_examples() {
    let filters = ["sport/tennis/+", "sport/+", "+", "+/+", "/+", "+/tennis/#"];
    assert_eq!(matching_clients(&filters, "sport/tennis/player1"), [0, 5]);
    assert_eq!(matching_clients(&filters, "sport/tennis/player2"), [0, 5]);
    assert_eq!(
        matching_clients(&filters, "sport/tennis/player1/ranking"),
        [5]
    );
    // "sport/+" does not match "sport" but matches "sport/".
    assert_eq!(matching_clients(&filters, "sport"), [2]);
    assert_eq!(matching_clients(&filters, "sport/"), [1, 3]);
    // "+/+" and "/+" match "/finance", "+" does not.
    assert_eq!(matching_clients(&filters, "/finance"), [3, 4]);
    assert_eq!(matching_clients(&filters, "sport/tennis"), [1, 3, 5]);
}

// Section 4.7.2, [MQTT-4.7.2-1]: wildcards in the first level skip topics starting with `$`.
#[test]
fn dollar_topics_are_not_matched_by_first_level_wildcards_mqtt_4_7_2_1() {
    let filters = [
        "#",
        "+/monitor/Clients",
        "$SYS/#",
        "$SYS/monitor/+",
        "+",
        "+/#",
        "$share/g/#",
    ];
    assert_eq!(
        matching_clients(&filters[..6], "$SYS/monitor/Clients"),
        [2, 3]
    );
    assert_eq!(matching_clients(&filters[..6], "$SYS"), [2]);
    assert_eq!(
        matching_clients(&filters[..6], "SYS/monitor/Clients"),
        [0, 1, 5]
    );
    // Only the first level counts: `$` further down is an ordinary character.
    assert_eq!(matching_clients(&["+/$x", "a/+"], "a/$x"), [0, 1]);

    let mut tree = SubscriptionTree::new(1);
    tree.insert(&filter("$share/g/#"), 1, 1);
    tree.insert(&filter("$share/g/$SYS/+"), 2, 2);
    let (_, groups) = matches(&tree, "$SYS/x");
    assert_eq!(groups, [("$share/g/$SYS/+".to_owned(), vec![(2, 2)])]);
}

#[test]
fn resubscribing_replaces_the_subscription_mqtt_3_8_4_3() {
    let mut tree = SubscriptionTree::new(0);
    let f = filter("a/+");
    assert_eq!(tree.insert(&f, 1_u32, 10_u32), None);
    assert_eq!(tree.insert(&f, 1, 11), Some(10));
    assert_eq!(tree.insert(&f, 2, 20), None);
    assert_eq!(tree.len(), 2);
    assert_eq!(tree.get(&f, 1), Some(&11));
    assert_eq!(matches(&tree, "a/b").0, [(1, 11), (2, 20)]);

    // The same filter shared is another subscription, and so is another group.
    let s = filter("$share/g/a/+");
    assert_eq!(tree.insert(&s, 1, 30), None);
    assert_eq!(tree.insert(&s, 1, 31), Some(30));
    assert_eq!(tree.insert(&filter("$share/h/a/+"), 1, 40), None);
    assert_eq!(tree.len(), 4);
    assert_eq!(tree.get(&s, 1), Some(&31));
    assert_eq!(tree.get(&filter("a/+"), 1), Some(&11));
}

#[test]
fn shared_groups_are_reported_whole_mqtt_4_8_2_2() {
    let mut tree = SubscriptionTree::new(5);
    tree.insert(&filter("$share/workers/jobs/#"), 3_u32, 3_u32);
    tree.insert(&filter("$share/workers/jobs/#"), 1, 1);
    tree.insert(&filter("$share/auditors/jobs/#"), 2, 2);
    tree.insert(&filter("$share/workers/jobs/+"), 4, 4);
    tree.insert(&filter("jobs/#"), 5, 5);
    let (clients, groups) = matches(&tree, "jobs/1");
    assert_eq!(clients, [(5, 5)]);
    assert_eq!(
        groups,
        [
            ("$share/auditors/jobs/#".to_owned(), vec![(2, 2)]),
            ("$share/workers/jobs/#".to_owned(), vec![(1, 1), (3, 3)]),
            ("$share/workers/jobs/+".to_owned(), vec![(4, 4)]),
        ]
    );
    // `jobs/#` matches the parent level `jobs`, `jobs/+` does not.
    assert_eq!(matches(&tree, "jobs").1.len(), 2);

    // A group with no member left is not reported.
    assert_eq!(tree.remove(&filter("$share/auditors/jobs/#"), 2), Some(2));
    assert_eq!(tree.remove(&filter("$share/auditors/jobs/#"), 2), None);
    assert_eq!(matches(&tree, "jobs").1.len(), 1);
}

#[test]
fn remove_prunes_empty_nodes() {
    let mut tree = SubscriptionTree::new(9);
    let filters = [
        "a/b/c",
        "a/b",
        "a/+/c/#",
        "a/#",
        "#",
        "+",
        "/",
        "//+/",
        "$share/g/a/b/c",
        "$SYS/x",
    ];
    for (round, order) in [false, true].into_iter().enumerate() {
        for (i, f) in (0_u32..).zip(filters) {
            tree.insert(&filter(f), i % 3, i);
            tree.insert(&filter(f), 7, i);
        }
        assert_eq!(tree.len(), 2 * filters.len());
        assert!(tree.node_count() > 0);
        // Remove in insertion order in the first round, in reverse in the second.
        let mut list: Vec<_> = (0_u32..).zip(filters).collect();
        if order {
            list.reverse();
        }
        for (i, f) in list {
            assert_eq!(
                tree.remove(&filter(f), i % 3),
                Some(i),
                "round {round}: {f}"
            );
            assert_eq!(tree.remove(&filter(f), i % 3), None);
            assert_eq!(tree.remove(&filter(f), 7), Some(i));
        }
        assert_eq!(tree.len(), 0);
        assert!(tree.is_empty());
        assert_eq!(tree.node_count(), 0, "round {round}");
    }
    // Removing what was never there changes nothing.
    assert_eq!(tree.remove(&filter("x/y/z"), 1), None);
    assert_eq!(tree.node_count(), 0);
}

#[test]
fn removing_a_leaf_keeps_the_branches_still_in_use() {
    let mut tree = SubscriptionTree::new(9);
    tree.insert(&filter("a/b/c/d"), 1_u32, 1_u32);
    tree.insert(&filter("a/x"), 2, 2);
    assert_eq!(tree.node_count(), 5);
    assert_eq!(tree.remove(&filter("a/b/c/d"), 1), Some(1));
    assert_eq!(tree.node_count(), 2);
    assert_eq!(matching_count(&tree, "a/x"), 1);
    tree.insert(&filter("a/+/#"), 3, 3);
    tree.insert(&filter("a/+/c"), 4, 4);
    assert_eq!(tree.remove(&filter("a/+/#"), 3), Some(3));
    assert_eq!(tree.node_count(), 4);
    assert_eq!(matching_count(&tree, "a/q/c"), 1);
}

fn matching_count(tree: &SubscriptionTree<u32, u32>, topic: &str) -> usize {
    let (clients, groups) = matches(tree, topic);
    clients.len() + groups.len()
}

#[test]
fn deep_filters_do_not_overflow_the_stack() {
    // 30,000 levels: recursion in matching or dropping would overflow a small stack.
    let deep = vec!["a"; 30_000].join("/");
    let f = filter(&deep);
    let plus = filter(&vec!["+"; 30_000].join("/"));
    let run = move || {
        let mut tree = SubscriptionTree::new(3);
        tree.insert(&f, 1_u32, 1_u32);
        tree.insert(&plus, 2, 2);
        assert_eq!(matching_count(&tree, f.as_str()), 2);
        assert_eq!(tree.remove(&plus, 2), Some(2));
        drop(tree);
    };
    let handle = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(run);
    assert!(handle.is_ok_and(|h| h.join().is_ok()));
}

// A naive model: every (filter, client) with its value, matched with
// `TopicFilter::matches`.
type Model = BTreeMap<(TopicFilter, u32), u32>;

fn model_matches(model: &Model, topic: &str) -> Matches {
    let mut clients = Vec::new();
    let mut groups: BTreeMap<String, Vec<(u32, u32)>> = BTreeMap::new();
    for ((f, client), &value) in model {
        if !f.matches(topic) {
            continue;
        }
        if f.is_shared() {
            groups
                .entry(f.as_str().to_owned())
                .or_default()
                .push((*client, value));
        } else {
            clients.push((*client, value));
        }
    }
    clients.sort_unstable();
    let groups = groups
        .into_iter()
        .map(|(f, mut members)| {
            members.sort_unstable();
            (f, members)
        })
        .collect();
    (clients, groups)
}

const LEVELS: &[&str] = &["a", "b", "", "$SYS", "$x"];

fn arb_filter() -> impl Strategy<Value = TopicFilter> {
    let level = prop::sample::select(&["a", "b", "", "+", "$SYS"][..]);
    (
        prop::option::weighted(0.25, prop::sample::select(&["g", "h"][..])),
        prop::collection::vec(level, 0..4),
        any::<bool>(),
    )
        .prop_filter_map("a filter has a level", |(share, levels, hash)| {
            let mut s = share.map(|g| format!("$share/{g}/")).unwrap_or_default();
            s.push_str(&levels.join("/"));
            if hash {
                if !levels.is_empty() {
                    s.push('/');
                }
                s.push('#');
            }
            // Only the lone empty level is invalid (an empty filter).
            TopicFilter::try_from(s).ok()
        })
}

fn arb_topic() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(LEVELS), 1..5)
        .prop_map(|levels| levels.join("/"))
        .prop_filter("topic names are not empty", |t| !t.is_empty())
}

#[derive(Debug, Clone)]
enum Op {
    Insert(TopicFilter, u32, u32),
    Remove(TopicFilter, u32),
}

fn arb_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (arb_filter(), 0_u32..4, any::<u32>()).prop_map(|(f, c, v)| Op::Insert(f, c, v)),
        2 => (arb_filter(), 0_u32..4).prop_map(|(f, c)| Op::Remove(f, c)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn matches_equal_the_naive_model(
        ops in prop::collection::vec(arb_op(), 0..40),
        topics in prop::collection::vec(arb_topic(), 1..12),
        seed in any::<u64>(),
    ) {
        let mut tree = SubscriptionTree::new(seed);
        let mut model = Model::new();
        for op in &ops {
            match op {
                Op::Insert(f, c, v) => {
                    prop_assert_eq!(tree.insert(f, *c, *v), model.insert((f.clone(), *c), *v));
                }
                Op::Remove(f, c) => {
                    prop_assert_eq!(tree.remove(f, *c), model.remove(&(f.clone(), *c)));
                }
            }
            prop_assert_eq!(tree.len(), model.len());
        }
        for topic in &topics {
            prop_assert_eq!(matches(&tree, topic), model_matches(&model, topic), "topic {}", topic);
        }
        for ((f, c), v) in &model {
            prop_assert_eq!(tree.get(f, *c), Some(v));
        }
        // Removing everything frees every node.
        for (f, c) in model.keys() {
            prop_assert!(tree.remove(f, *c).is_some());
        }
        prop_assert_eq!(tree.len(), 0);
        prop_assert_eq!(tree.node_count(), 0);
    }
}
