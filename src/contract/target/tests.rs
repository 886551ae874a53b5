//! Contract section 1 examples and rejections.

use super::*;

fn target(text: &str) -> Target {
    text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
}

#[test]
fn contract_example() {
    let t = target("cvmmap://camera0@/run/cvmmap?namespace=zed");
    assert_eq!(
        (t.instance(), t.prefix(), t.namespace()),
        ("camera0", "/run/cvmmap", "zed")
    );
    assert_eq!(t.base_name(), "zed_camera0");
    assert_eq!(t.shm_name(), "zed_camera0");
    assert_eq!(t.shm_path(), "/dev/shm/zed_camera0");
    assert_eq!(t.zmq_endpoint(), "ipc:///run/cvmmap/zed_camera0");
    assert_eq!(t.nats_key(), "zed_camera0");
}

#[test]
fn bare_instance_uses_defaults() {
    let t = target("camera.0");
    assert_eq!((t.prefix(), t.namespace()), ("/tmp", "cvmmap"));
    assert_eq!(t.shm_name(), "cvmmap_camera.0");
    assert_eq!(t.zmq_endpoint(), "ipc:///tmp/cvmmap_camera.0");
    assert_eq!(t.nats_key(), "cvmmap_camera_0");
}

#[test]
fn uri_forms() {
    assert_eq!(target("cvmmap://cam"), target("cam"));
    assert_eq!(target("cvmmap://cam?namespace=cvmmap"), target("cam"));
    assert_eq!(target("cvmmap://cam@/tmp"), target("cam"));
    assert_eq!(target("cvmmap://cam@/run/x/").prefix(), "/run/x");
    let root = target("cvmmap://cam@/");
    assert_eq!(root.zmq_endpoint(), "ipc:///cvmmap_cam");
    let t = target("cvmmap://A-b_c.9@/run?namespace=n.s-1");
    assert_eq!(t.nats_key(), "n_s-1_A-b_c_9");
}

#[test]
fn display_round_trips() {
    for text in [
        "cam",
        "cvmmap://camera0@/run/cvmmap?namespace=zed",
        "cvmmap://c@/",
    ] {
        let t = target(text);
        assert_eq!(target(&t.to_string()), t);
    }
    assert_eq!(
        target("cam").to_string(),
        "cvmmap://cam@/tmp?namespace=cvmmap"
    );
}

#[test]
fn length_limits() {
    let longest = "a".repeat(23);
    assert_eq!(target(&longest).instance(), longest);
    let ns = "n".repeat(32);
    assert_eq!(
        target(&format!("cvmmap://cam?namespace={ns}")).namespace(),
        ns
    );
    // "/" + 82 = 83 bytes of prefix, + "/cvmmap_" + 16 = 107 exactly.
    let prefix = format!("/{}", "p".repeat(82));
    let ok = target(&format!("cvmmap://{}@{prefix}", "i".repeat(16)));
    assert_eq!(ok.ipc_path().len(), 107);
    let err = Target::parse(&format!("cvmmap://{}@{prefix}", "i".repeat(17))).unwrap_err();
    assert!(
        matches!(err, TargetError::IpcPathTooLong { ref path } if path.len() == 108),
        "{err}"
    );
}

/// Each rejection carries the offending text in its message.
#[test]
fn rejections_name_the_offending_text() {
    let cases: &[(&str, &str)] = &[
        ("", "empty"),
        ("cvmmap://", "\"\""),
        (&"a".repeat(24), &"a".repeat(24)),
        ("cam era", "\"cam era\""),
        ("_cam", "\"_cam\""),
        ("-cam", "\"-cam\""),
        ("cam/0", "\"cam/0\""),
        ("cam@/tmp", "\"cam@/tmp\""),
        ("cäm", "\"cäm\""),
        ("zmq://cam", "\"zmq://cam\""),
        ("cvmmap://cam@run/x", "\"run/x\""),
        ("cvmmap://cam@", "\"\""),
        ("cvmmap://cam@/run//x", "empty path segments"),
        ("cvmmap://cam@/run/../x", "\"/run/../x\""),
        ("cvmmap://cam@/run/.", "'.' or '..'"),
        ("cvmmap://cam@/a\\b", "\"/a\\\\b\""),
        ("cvmmap://cam@/a@/b", "at most one '@'"),
        ("cvmmap://cam?", "query string is empty"),
        ("cvmmap://cam?ns=zed", "\"ns\""),
        ("cvmmap://cam?namespace=zed&prefix=/x", "\"prefix\""),
        ("cvmmap://cam?namespace", "key=value"),
        ("cvmmap://cam?namespace=", "namespace is empty"),
        ("cvmmap://cam?namespace=a&namespace=b", "more than once"),
        ("cvmmap://cam?namespace=a&", "key=value"),
        ("cvmmap://cam?namespace=_zed", "\"_zed\""),
        (
            &format!("cvmmap://cam?namespace={}", "n".repeat(33)),
            &"n".repeat(33),
        ),
    ];
    for (text, needle) in cases {
        let err = Target::parse(text).expect_err(text);
        let message = err.to_string();
        assert!(
            message.contains(needle),
            "{text:?}: {message:?} lacks {needle:?}"
        );
    }
}

#[test]
fn new_checks_parts_like_parse() {
    assert_eq!(Target::new("cam", "/tmp", "cvmmap").unwrap(), target("cam"));
    assert!(matches!(
        Target::new("cam", "tmp", "cvmmap"),
        Err(TargetError::BadPrefix { .. })
    ));
    assert!(matches!(
        Target::new("cam", "/tmp", ""),
        Err(TargetError::BadNamespace { .. })
    ));
    assert!(matches!(
        Target::new("", "/tmp", "ns"),
        Err(TargetError::BadInstance { .. })
    ));
}
