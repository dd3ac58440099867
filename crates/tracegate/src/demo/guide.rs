//! What the demo prints once its traffic is recorded: where to look, as commands to paste.

#![allow(clippy::print_stdout)]

use std::path::Path;

use super::traffic::Landmarks;

pub fn print(gw: &str, mock: &str, db: &Path, l: &Landmarks) {
    println!();
    println!(
        "tracegate demo: {} requests from alice, bob and ci-bot recorded in {} ({} got no answer)",
        l.sent,
        db.display(),
        l.failed
    );
    println!("  gateway {gw}, in front of a mock Anthropic + OpenAI provider at {mock}");
    println!();
    println!("Where to look:");
    let api = format!("{gw}/api/v1");
    let examples: Vec<(&str, String)> = vec![
        (
            "newest traces",
            format!("curl -s '{api}/traces?limit=5&fields=id,account,model,status,outcome,duration_ms'"),
        ),
        (
            "errors of a model",
            format!("curl -s '{api}/traces?model=claude-sonnet-4-5&outcome=upstream_error&limit=5'"),
        ),
        (
            "slow + full text",
            format!(
                "curl -s {api}/traces/search -H 'content-type: application/json' -d '{{\"q\": \"\\\"connection reset\\\" retr*\", \"filter\": {{\"and\": [{{\"field\": \"duration_ms\", \"op\": \"gt\", \"value\": 1000}}, {{\"field\": \"metadata.team\", \"op\": \"eq\", \"value\": \"search\"}}]}}}}'"
            ),
        ),
        (
            "slowest first",
            format!("curl -s '{api}/traces?sort=duration_ms&limit=5&fields=id,model,duration_ms,ttft_ms'"),
        ),
        (
            "latency by model",
            format!("curl -s '{api}/stats?bucket=1h&group_by=model'"),
        ),
        ("slowest endpoints", format!("curl -s '{api}/stats/slowest'")),
        (
            "who used what",
            format!("curl -s '{api}/usage/accounts?window=5h'"),
        ),
        (
            "alice's 5 h window",
            format!("curl -s '{api}/usage/window?account=alice&window=5h'"),
        ),
        (
            "conversations",
            format!("curl -s '{api}/conversations?account=alice'"),
        ),
    ];
    let mut examples = examples;
    if let Some(id) = &l.conversation {
        examples.push(("one trace", format!("curl -s {api}/traces/{id}")));
        examples.push((
            "its conversation",
            format!("curl -s {api}/conversations/{id}   # turns, a branch and a sub-task"),
        ));
    }
    for (what, cmd) in &examples {
        println!("  {what:<20} {cmd}");
    }
    println!();
    println!("Try it with your own client (any key works against the mock):");
    println!("  ANTHROPIC_BASE_URL={gw} ANTHROPIC_API_KEY=demo claude");
    println!("  OPENAI_BASE_URL={gw}/v1 OPENAI_API_KEY=demo python your_app.py");
}

/// The last line while the demo serves: how to stop it (tests wait for this line).
pub fn print_wait() {
    println!("Ctrl-C to stop.");
}
