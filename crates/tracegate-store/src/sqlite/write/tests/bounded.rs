//! 100,000 distinct model names and paths from clients do not make 100,000 rollup groups:
//! each bounded dimension keeps at most `MAX_DIMENSION_VALUES` values plus the price
//! table's models, the rest is rolled up as `other`, and a reopened store keeps the same
//! values.

use super::*;
use crate::sqlite::write::bounded::{MAX_DIMENSION_VALUES, OTHER};

const DISTINCT: usize = 100_000;

fn distinct_keys(c: &Connection, dim: &str) -> BTreeSet<String> {
    let mut stmt = c
        .prepare("SELECT DISTINCT key FROM rollups WHERE dim = ?1")
        .unwrap();
    stmt.query_map([dim], |r| r.get::<_, String>(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn request_count(c: &Connection, dim: &str) -> i64 {
    c.query_row(
        "SELECT sum(requests) FROM rollups WHERE granularity = 86400000 AND dim = ?1",
        [dim],
        |r| r.get(0),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_chosen_names_are_bounded_in_the_rollups() {
    let (dir, store, peek) = temp_store();
    let base = epoch();
    let traces: Vec<Trace> = (0..DISTINCT)
        .map(|i| {
            let path = format!("/v1/x-{i}");
            let mut t = Trace::begin(Provider::Openai, "POST", &path);
            t.started_at = base + Duration::milliseconds(i as i64);
            t.model_requested = Some(format!("made-up-model-{i}"));
            t
        })
        .collect();
    insert_in_batches(&store, &traces, 5000).await;
    let mut known = Trace::begin(Provider::Anthropic, "POST", "/v1/messages");
    known.started_at = base;
    known.model_requested = Some("claude-sonnet-4-5".into());
    store.insert_batch(vec![known]).await.unwrap();

    for dim in ["model", "endpoint"] {
        let keys = distinct_keys(&peek, dim);
        // The first MAX_DIMENSION_VALUES names, `other`, and (for models) the known one.
        let extra = usize::from(dim == "model");
        assert_eq!(keys.len(), MAX_DIMENSION_VALUES + 1 + extra, "{dim}");
        assert!(keys.contains(OTHER), "{dim}");
        assert_eq!(
            request_count(&peek, dim),
            DISTINCT as i64 + 1,
            "{dim}: nothing is lost"
        );
    }
    assert!(distinct_keys(&peek, "model").contains("claude-sonnet-4-5"));
    let account_models = distinct_keys(&peek, "account_model");
    assert!(account_models.len() <= MAX_DIMENSION_VALUES + 2);
    let traces_kept: i64 = peek
        .query_row(
            "SELECT count(DISTINCT model_requested) FROM traces",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        traces_kept,
        DISTINCT as i64 + 1,
        "traces keep the names as sent"
    );

    // Reopened, the store keeps the values it had and still folds new ones.
    drop(store);
    let store = SqliteStore::open(&dir.path().join("traces.db")).unwrap();
    let mut again = Trace::begin(Provider::Openai, "POST", "/v1/x-0");
    again.started_at = base;
    again.model_requested = Some("made-up-model-0".into());
    let mut new = again.clone();
    new.id = tracegate_core::trace::new_trace_id();
    new.model_requested = Some("yet-another-model".into());
    again.id = tracegate_core::trace::new_trace_id();
    store.insert_batch(vec![again, new]).await.unwrap();
    let keys = distinct_keys(&peek, "model");
    assert_eq!(keys.len(), MAX_DIMENSION_VALUES + 2);
    assert!(keys.contains("made-up-model-0") && !keys.contains("yet-another-model"));
}
