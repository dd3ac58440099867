//! Conversation links at write time. The core crate's reference [`Linker`]
//! runs next to the writer connection and links traces in the order they are
//! written; its answer goes on the trace row, its input keys into
//! `trace_links`. The linker is rebuilt from `trace_links` when the store
//! opens, and after a failed batch (it may remember traces that were rolled
//! back).
//!
//! A rebuilt linker only sees the newest traces: a trace whose conversation
//! started before that window is, to it, the root of a conversation of its
//! own. The (conversation, branch) it then answers is mapped back to the one
//! stored for that trace, so new turns join the stored conversation, and new
//! branches of it get the next stored branch number.

use std::collections::HashMap;

use rusqlite::{params, Connection, Row, Transaction};
use serde_json::Value;
use tracegate_core::conversation::{
    answer_fingerprint, continuation_summary, link_keys, task_prompt_hashes, AnswerFingerprint,
    Evidence, Hash, LinkKeys, LinkKind, LinkedTrace, Linker, SummaryShingles, DEFAULT_MAX_AGE_MS,
};
use tracegate_core::{Provider, Trace};
use uuid::Uuid;

use super::conversations::Conversations;
use crate::error::StoreError;

/// Endpoints whose requests are linked into conversations.
pub(super) const LINKED_ENDPOINTS: [&str; 2] = ["/v1/messages", "/v1/chat/completions"];

/// What linking needs from a trace's bodies, computed before the write lock.
#[derive(Debug, Clone)]
pub(super) struct LinkInput {
    keys: LinkKeys,
    task_prompts: Vec<Hash>,
    answer: Option<AnswerFingerprint>,
    /// Only for a continuation candidate, and not stored: a rebuilt linker
    /// maps the continuation's conversation back to the stored one.
    summary: Option<SummaryShingles>,
}

impl LinkInput {
    /// The keys of a trace of a linked endpoint whose request has messages.
    pub(super) fn of(t: &Trace, request: Option<&Value>, response: Option<&Value>) -> Option<Self> {
        LinkInput::from_parts(t.provider, &t.endpoint, request, response)
    }

    /// [`LinkInput::of`] from a trace's provider, endpoint and bodies.
    pub(super) fn from_parts(
        provider: Provider,
        endpoint: &str,
        request: Option<&Value>,
        response: Option<&Value>,
    ) -> Option<Self> {
        if !LINKED_ENDPOINTS.contains(&endpoint) {
            return None;
        }
        let request = request?;
        let keys = link_keys(provider, request)?;
        let task_prompts = response.map_or_else(Vec::new, |r| task_prompt_hashes(provider, r));
        let answer = response.and_then(|r| answer_fingerprint(provider, r));
        // Only a request without a parent of its own is a continuation candidate.
        let summary = (keys.continuation && keys.parent_hash.is_none())
            .then(|| continuation_summary(provider, request))
            .flatten();
        Some(LinkInput {
            keys,
            task_prompts,
            answer,
            summary,
        })
    }

    fn evidence(&self) -> Evidence<'_> {
        Evidence {
            task_prompts: &self.task_prompts,
            answer: self.answer.as_ref(),
            summary: self.summary.as_ref(),
        }
    }

    /// Records the keys of the trace at `rowid`.
    pub(super) fn insert(&self, tx: &Transaction<'_>, rowid: i64) -> Result<(), StoreError> {
        let k = &self.keys;
        let prompts = (!self.task_prompts.is_empty()).then(|| self.task_prompts.concat());
        tx.prepare_cached(
            "INSERT OR REPLACE INTO trace_links (trace_rowid, self_hash, parent_hash, prefix_len,
                 continuation, first_user_hash, single_user, task_prompts, answer_fingerprint)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?
        .execute(params![
            rowid,
            &k.self_hash[..],
            k.parent_hash.as_ref().map(|h| &h[..]),
            i64::try_from(k.prefix_len).unwrap_or(i64::MAX),
            k.continuation,
            k.first_user_text_hash.as_ref().map(|h| &h[..]),
            k.single_user_message,
            prompts,
            self.answer.as_ref().map(AnswerFingerprint::to_bytes),
        ])?;
        Ok(())
    }
}

/// The linker of the writer connection.
pub(super) struct StoreLinker {
    linker: Linker,
    /// Rebuilt (conversation, branch) -> stored one, where they differ.
    renamed: HashMap<(String, u32), (String, u32)>,
    /// Rebuilt conversation id -> stored one, where they differ.
    conversations: HashMap<String, String>,
}

/// A trace as the rebuild reads it back.
struct Remembered {
    trace_id: String,
    at_ms: i64,
    account: Option<String>,
    stored: Option<(String, u32)>,
    input: LinkInput,
}

impl StoreLinker {
    /// A linker remembering up to `capacity` traces, with a sub-task window
    /// of `task_window_ms`, rebuilt from the newest `capacity` linked traces of
    /// the database (it forgets those beyond its age limit itself, as it did
    /// when they were first linked).
    pub(super) fn rebuild(
        c: &Connection,
        capacity: usize,
        task_window_ms: i64,
    ) -> Result<StoreLinker, StoreError> {
        StoreLinker::rebuild_before(c, capacity, task_window_ms, i64::MAX)
    }

    /// [`StoreLinker::rebuild`] from the traces stored before row `before_rowid` only.
    pub(super) fn rebuild_before(
        c: &Connection,
        capacity: usize,
        task_window_ms: i64,
        before_rowid: i64,
    ) -> Result<StoreLinker, StoreError> {
        let mut out = StoreLinker {
            linker: Linker::new(capacity, DEFAULT_MAX_AGE_MS).with_task_window_ms(task_window_ms),
            renamed: HashMap::new(),
            conversations: HashMap::new(),
        };
        let mut stmt = c.prepare(
            "SELECT t.id, t.ts, t.account, t.conversation_id, t.branch,
                    l.self_hash, l.parent_hash, l.prefix_len, l.continuation,
                    l.first_user_hash, l.single_user, l.task_prompts, l.answer_fingerprint
             FROM (SELECT * FROM trace_links WHERE trace_rowid < ?2
                   ORDER BY trace_rowid DESC LIMIT ?1) AS l
             JOIN traces AS t ON t.rowid = l.trace_rowid
             ORDER BY l.trace_rowid",
        )?;
        let limit = i64::try_from(capacity).unwrap_or(i64::MAX);
        let mut rows = stmt.query(params![limit, before_rowid])?;
        let mut skipped = 0usize;
        while let Some(row) = rows.next()? {
            let Some(r) = remembered(row)? else {
                skipped += 1;
                continue;
            };
            let linked = out.linker.link(
                &r.trace_id,
                r.at_ms,
                r.account.as_deref(),
                &r.input.keys,
                r.input.evidence(),
            );
            let rebuilt = (linked.conversation_id, linked.branch);
            if let Some(stored) = r.stored.filter(|s| *s != rebuilt) {
                if stored.0 != rebuilt.0 {
                    out.conversations
                        .insert(rebuilt.0.clone(), stored.0.clone());
                }
                out.renamed.insert(rebuilt, stored);
            }
        }
        if skipped > 0 {
            tracing::warn!(skipped, "unreadable conversation link keys left out");
        }
        Ok(out)
    }

    /// Links the next trace written, in the stored conversation and branch numbering.
    pub(super) fn link(
        &mut self,
        tx: &Transaction<'_>,
        (at_ms, account): (i64, Option<&str>),
        trace_id: &str,
        input: &LinkInput,
        pending: &Conversations,
    ) -> Result<LinkedTrace, StoreError> {
        let mut linked = self
            .linker
            .link(trace_id, at_ms, account, &input.keys, input.evidence());
        let rebuilt = (linked.conversation_id.clone(), linked.branch);
        if let Some((conversation, branch)) = self.renamed.get(&rebuilt) {
            linked.conversation_id.clone_from(conversation);
            linked.branch = *branch;
        } else if linked.kind == LinkKind::Branch {
            // A new branch: the next number of the stored conversation.
            let conversation = self
                .conversations
                .get(&linked.conversation_id)
                .cloned()
                .unwrap_or_else(|| linked.conversation_id.clone());
            let branch = linked.branch.max(pending.next_branch(tx, &conversation)?);
            if (&conversation, branch) != (&rebuilt.0, rebuilt.1) {
                self.renamed.insert(rebuilt, (conversation.clone(), branch));
            }
            linked.conversation_id = conversation;
            linked.branch = branch;
        }
        Ok(linked)
    }
}

/// Reads one rebuild row; `None` when its keys or id cannot be decoded.
fn remembered(row: &Row<'_>) -> Result<Option<Remembered>, StoreError> {
    let id: Vec<u8> = row.get(0)?;
    let Ok(id) = Uuid::from_slice(&id) else {
        return Ok(None);
    };
    let conversation: Option<String> = row.get(3)?;
    let branch: Option<i64> = row.get(4)?;
    let stored = match (conversation, branch.map(u32::try_from)) {
        (Some(c), Some(Ok(b))) => Some((c, b)),
        _ => None,
    };
    let Some(self_hash) = hash(row.get(5)?) else {
        return Ok(None);
    };
    let parent: Option<Vec<u8>> = row.get(6)?;
    let parent_hash = match parent.map(hash) {
        Some(None) => return Ok(None),
        other => other.flatten(),
    };
    let first: Option<Vec<u8>> = row.get(9)?;
    let first_user_text_hash = match first.map(hash) {
        Some(None) => return Ok(None),
        other => other.flatten(),
    };
    let prompts: Option<Vec<u8>> = row.get(11)?;
    let prompts = prompts.unwrap_or_default();
    if !prompts.len().is_multiple_of(16) {
        return Ok(None);
    }
    let task_prompts = prompts
        .chunks_exact(16)
        .filter_map(|c| hash(c.to_vec()))
        .collect();
    let Ok(prefix_len) = usize::try_from(row.get::<_, i64>(7)?) else {
        return Ok(None);
    };
    let answer: Option<Vec<u8>> = row.get(12)?;
    let answer = match answer.map(|b| AnswerFingerprint::from_bytes(&b)) {
        Some(None) => return Ok(None),
        other => other.flatten(),
    };
    Ok(Some(Remembered {
        trace_id: id.to_string(),
        at_ms: row.get(1)?,
        account: row.get(2)?,
        stored,
        input: LinkInput {
            keys: LinkKeys {
                self_hash,
                parent_hash,
                prefix_len,
                continuation: row.get(8)?,
                first_user_text_hash,
                single_user_message: row.get(10)?,
            },
            task_prompts,
            answer,
            summary: None,
        },
    }))
}

fn hash(bytes: Vec<u8>) -> Option<Hash> {
    <Hash>::try_from(bytes.as_slice()).ok()
}
