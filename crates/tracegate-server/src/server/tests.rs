use super::*;

#[test]
fn the_cap_counts_open_connections_and_rejections() {
    let stats = Arc::new(ConnStats::default());
    let a = stats.admit(2).unwrap();
    let b = stats.admit(2).unwrap();
    assert!(stats.admit(2).is_none());
    assert_eq!((stats.open(), stats.rejected()), (2, 1));
    drop(a);
    let _c = stats.admit(2).unwrap();
    drop(b);
    assert_eq!((stats.open(), stats.rejected()), (1, 1));
}

#[test]
fn the_over_capacity_answer_is_one_whole_http_response() {
    let text = std::str::from_utf8(OVER_CAPACITY).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 503 "));
    assert!(head.contains(&format!("content-length: {}", body.len())));
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(v["error"]["type"], "overloaded_error");
}
