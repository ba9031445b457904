use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

fn filter(s: &str) -> TopicFilter {
    match TopicFilter::try_from(s) {
        Ok(f) => f,
        Err(e) => panic!("invalid filter {s:?}: {e}"),
    }
}

fn name(s: &str) -> TopicName {
    match TopicName::try_from(s) {
        Ok(t) => t,
        Err(e) => panic!("invalid topic name {s:?}: {e}"),
    }
}

/// The matching `(topic, message)` pairs, sorted.
fn matches(store: &RetainedStore<u32>, f: &str) -> Vec<(String, u32)> {
    let mut found = Vec::new();
    store.for_each_match(&filter(f), |topic, m| found.push((topic.to_string(), *m)));
    found.sort_unstable();
    found
}

fn store_of(topics: &[&str]) -> RetainedStore<u32> {
    let mut store = RetainedStore::new(11);
    for (i, t) in (0_u32..).zip(topics) {
        assert_eq!(store.set(&name(t), i), None);
    }
    store
}

fn topics_matching(store: &RetainedStore<u32>, f: &str) -> Vec<String> {
    matches(store, f).into_iter().map(|(t, _)| t).collect()
}

// Section 4.7.1: the spec's examples, from the retained side.
#[test]
fn wildcard_filters_find_the_retained_topics_they_match() {
    let store = store_of(&[
        "sport",
        "sport/",
        "sport/tennis/player1",
        "sport/tennis/player1/ranking",
        "sport/tennis/player1/score/wimbledon",
        "sport/tennis/player2",
        "/finance",
        "finance",
    ]);
    assert_eq!(
        topics_matching(&store, "sport/tennis/player1/#"),
        [
            "sport/tennis/player1",
            "sport/tennis/player1/ranking",
            "sport/tennis/player1/score/wimbledon"
        ]
    );
    assert_eq!(topics_matching(&store, "sport/#").len(), 6);
    assert_eq!(
        topics_matching(&store, "sport/tennis/+"),
        ["sport/tennis/player1", "sport/tennis/player2"]
    );
    assert_eq!(topics_matching(&store, "sport/+"), ["sport/"]);
    assert_eq!(topics_matching(&store, "+"), ["finance", "sport"]);
    assert_eq!(topics_matching(&store, "+/+"), ["/finance", "sport/"]);
    assert_eq!(topics_matching(&store, "/+"), ["/finance"]);
    assert_eq!(topics_matching(&store, "#").len(), 8);
    assert_eq!(topics_matching(&store, "finance"), ["finance"]);
    assert!(topics_matching(&store, "finance/#") == ["finance"]);
    assert!(topics_matching(&store, "nothing/#").is_empty());
    // Shared filters match with their filter proper.
    assert_eq!(topics_matching(&store, "$share/g/+/finance"), ["/finance"]);
}

#[test]
fn dollar_topics_are_not_matched_by_first_level_wildcards_mqtt_4_7_2_1() {
    let store = store_of(&[
        "$SYS/monitor/Clients",
        "$SYS",
        "SYS/monitor/Clients",
        "a/$x",
    ]);
    assert_eq!(
        topics_matching(&store, "#"),
        ["SYS/monitor/Clients", "a/$x"]
    );
    assert_eq!(
        topics_matching(&store, "+/monitor/Clients"),
        ["SYS/monitor/Clients"]
    );
    assert_eq!(
        topics_matching(&store, "$SYS/#"),
        ["$SYS", "$SYS/monitor/Clients"]
    );
    assert_eq!(
        topics_matching(&store, "$SYS/monitor/+"),
        ["$SYS/monitor/Clients"]
    );
    assert_eq!(topics_matching(&store, "+/+"), ["a/$x"]);
    assert_eq!(topics_matching(&store, "+"), Vec::<String>::new());
}

#[test]
fn set_replaces_and_remove_deletes_mqtt_3_3_1_5() {
    let mut store = RetainedStore::new(0);
    let t = name("a/b");
    assert_eq!(store.set(&t, 1_u32), None);
    assert_eq!(store.set(&t, 2), Some(1));
    assert_eq!(store.len(), 1);
    assert_eq!(store.get(&t), Some(&2));
    assert_eq!(store.get(&name("a")), None);
    // An intermediate node gets its own message.
    assert_eq!(store.set(&name("a"), 3), None);
    assert_eq!(store.len(), 2);
    assert_eq!(matches(&store, "a/#"), [("a".into(), 3), ("a/b".into(), 2)]);
    // [MQTT-3.3.1-6]: the broker removes on an empty retained payload.
    assert_eq!(store.remove(&t), Some(2));
    assert_eq!(store.remove(&t), None);
    assert_eq!(store.get(&t), None);
    assert_eq!(store.len(), 1);
    assert_eq!(store.node_count(), 1);
}

#[test]
fn remove_and_retain_prune_empty_nodes() {
    let topics = [
        "a/b/c", "a/b", "a", "a/x/c", "/", "//", "/a/", "$SYS/x", "b/c/d/e",
    ];
    let mut store = store_of(&topics);
    assert_eq!(store.len(), topics.len());
    for (i, t) in (0_u32..9).zip(topics).rev() {
        assert_eq!(store.remove(&name(t)), Some(i), "{t}");
    }
    assert!(store.is_empty());
    assert_eq!(store.node_count(), 0);

    let mut store = store_of(&topics);
    store.retain(|t, m| t.as_str().starts_with('a') && m % 2 == 0);
    assert_eq!(topics_matching(&store, "#"), ["a", "a/b/c"]);
    assert_eq!(store.len(), 2);
    assert_eq!(store.node_count(), 3);
    store.retain(|_, _| false);
    assert_eq!(store.len(), 0);
    assert_eq!(store.node_count(), 0);
}

#[test]
fn for_each_visits_dollar_topics_too() {
    let store = store_of(&["$SYS/x", "a", "a/b"]);
    let mut all = Vec::new();
    store.for_each(|t, m| all.push((t.to_string(), *m)));
    all.sort_unstable();
    assert_eq!(
        all,
        [("$SYS/x".into(), 0), ("a".into(), 1), ("a/b".into(), 2)]
    );
}

#[test]
fn deep_topics_do_not_overflow_the_stack() {
    let deep = vec!["a"; 30_000].join("/");
    let t = name(&deep);
    let run = move || {
        let mut store = RetainedStore::new(3);
        store.set(&t, 1_u32);
        store.set(&name("a"), 2);
        let mut n = 0;
        store.for_each_match(&filter("#"), |_, _| n += 1);
        assert_eq!(n, 2);
        store.for_each_match(&filter(t.as_str()), |_, _| n += 1);
        assert_eq!(n, 3);
        assert_eq!(store.remove(&t), Some(1));
        assert_eq!(store.node_count(), 1);
        store.set(&t, 1);
        drop(store);
    };
    let handle = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(run);
    assert!(handle.is_ok_and(|h| h.join().is_ok()));
}

fn arb_topic() -> impl Strategy<Value = TopicName> {
    prop::collection::vec(
        prop::sample::select(&["a", "b", "", "$SYS", "$x"][..]),
        1..5,
    )
    .prop_filter_map("topic names are not empty", |levels| {
        TopicName::try_from(levels.join("/")).ok()
    })
}

fn arb_filter() -> impl Strategy<Value = TopicFilter> {
    let level = prop::sample::select(&["a", "b", "", "+", "$SYS", "$x"][..]);
    (
        prop::option::weighted(0.1, Just("$share/g/")),
        prop::collection::vec(level, 0..4),
        any::<bool>(),
    )
        .prop_filter_map("a filter has a level", |(share, levels, hash)| {
            let mut s = share.unwrap_or_default().to_owned();
            s.push_str(&levels.join("/"));
            if hash {
                if !levels.is_empty() {
                    s.push('/');
                }
                s.push('#');
            }
            TopicFilter::try_from(s).ok()
        })
}

#[derive(Debug, Clone)]
enum Op {
    Set(TopicName, u32),
    Remove(TopicName),
    Retain(u32),
}

fn arb_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (arb_topic(), any::<u32>()).prop_map(|(t, m)| Op::Set(t, m)),
        3 => arb_topic().prop_map(Op::Remove),
        1 => (2_u32..5).prop_map(Op::Retain),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn matches_equal_the_naive_model(
        ops in prop::collection::vec(arb_op(), 0..40),
        filters in prop::collection::vec(arb_filter(), 1..12),
        seed in any::<u64>(),
    ) {
        let mut store = RetainedStore::new(seed);
        let mut model: BTreeMap<TopicName, u32> = BTreeMap::new();
        for op in &ops {
            match op {
                Op::Set(t, m) => prop_assert_eq!(store.set(t, *m), model.insert(t.clone(), *m)),
                Op::Remove(t) => prop_assert_eq!(store.remove(t), model.remove(t)),
                Op::Retain(d) => {
                    store.retain(|_, m| m % d != 0);
                    model.retain(|_, m| *m % d != 0);
                }
            }
            prop_assert_eq!(store.len(), model.len());
        }
        for f in &filters {
            let mut expected: Vec<(String, u32)> = model
                .iter()
                .filter(|(t, _)| f.matches(t.as_str()))
                .map(|(t, m)| (t.to_string(), *m))
                .collect();
            expected.sort_unstable();
            prop_assert_eq!(matches(&store, f.as_str()), expected, "filter {}", f);
        }
        for (t, m) in &model {
            prop_assert_eq!(store.get(t), Some(m));
        }
        for t in model.keys() {
            prop_assert!(store.remove(t).is_some());
        }
        prop_assert_eq!(store.len(), 0);
        prop_assert_eq!(store.node_count(), 0);
    }
}
