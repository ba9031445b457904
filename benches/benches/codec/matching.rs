//! Topic-filter matching.

use std::hint::black_box;

use mqtt_proto as mp;

use crate::inputs::{FILTERS, MQTT_PROTO, MQTTBYTES, TOPICS};
use crate::suite::{Group, Suite};

pub(crate) fn matching_benches(s: &mut impl Suite) {
    let filters: Vec<mp::TopicFilter> = FILTERS
        .iter()
        .map(|&(f, _)| mp::TopicFilter::from_static(f))
        .collect();
    // Both matchers agree on every pair, and the mix has matches and misses.
    let mut hits = 0;
    for f in &filters {
        for t in TOPICS {
            let ours = f.matches(t);
            assert_eq!(ours, mqttbytes::matches(t, f.as_str()), "{f} vs {t}");
            hits += usize::from(ours);
        }
    }
    assert!(hits > 20 && hits < 80, "{hits} matches");

    let pairs = (filters.len() * TOPICS.len()) as u64;
    let mut g = s.group("topic-match/10x10".to_owned());
    g.elements(pairs);
    g.iter(MQTT_PROTO, || {
        let mut n = 0usize;
        for f in black_box(&filters) {
            for t in black_box(TOPICS) {
                n += usize::from(f.matches(t));
            }
        }
        n
    });
    g.iter(MQTTBYTES, || {
        let mut n = 0usize;
        for &(f, _) in black_box(&FILTERS) {
            for t in black_box(TOPICS) {
                n += usize::from(mqttbytes::matches(t, f));
            }
        }
        n
    });
    g.finish();
}
