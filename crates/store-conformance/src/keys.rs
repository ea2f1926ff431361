//! Keys: wrapped data keys, destroyed for good.

use crate::Fixture;
use rempart_store::StoredKey;

/// A key destroyed between the read of a rotation batch and its rewrap stays destroyed.
pub fn a_rewrap_does_not_resurrect_a_destroyed_key(open: &dyn Fn() -> Fixture) {
    let f = open();
    let k = &*f.keys;
    k.put_keys(&[StoredKey {
        person: "p".into(),
        master_version: 1,
        wrapped: vec![1; 60],
    }])
    .unwrap();
    let batch = k.keys_below_version(2, 10).unwrap();
    k.destroy_key("p").unwrap();
    k.rewrap_keys(&[StoredKey {
        master_version: 2,
        ..batch[0].clone()
    }])
    .unwrap();
    assert!(k.get_key("p").unwrap().is_none());
    assert_eq!(k.count_below_version(2).unwrap(), 0);
}

/// Keys are put all or none, read, counted and listed by master version, destroyed once.
pub fn keys_are_put_read_listed_by_version_and_destroyed(open: &dyn Fn() -> Fixture) {
    let f = open();
    let k = &*f.keys;
    let key = |p: &str, v: u32| StoredKey {
        person: p.into(),
        master_version: v,
        wrapped: vec![v as u8; 60],
    };
    k.put_keys(&[key("a", 1), key("b", 2), key("c", 1)])
        .unwrap();
    assert!(
        k.put_keys(&[key("d", 1), key("a", 1)]).is_err(),
        "a person has one key"
    );
    assert!(k.get_key("d").unwrap().is_none(), "all or none");
    assert_eq!(k.get_key("b").unwrap(), Some(key("b", 2)));
    assert_eq!(k.count_below_version(2).unwrap(), 2);
    let below: Vec<String> = k
        .keys_below_version(2, 10)
        .unwrap()
        .into_iter()
        .map(|k| k.person)
        .collect();
    assert_eq!(below, ["a", "c"]);
    assert_eq!(k.keys_below_version(2, 1).unwrap().len(), 1, "limit");
    k.rewrap_keys(&[key("a", 2)]).unwrap();
    assert_eq!(k.get_key("a").unwrap(), Some(key("a", 2)));
    assert!(k.destroy_key("a").unwrap());
    assert!(!k.destroy_key("a").unwrap());
    assert!(k.get_key("a").unwrap().is_none());
}
