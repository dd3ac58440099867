//! Compact, content-addressed bodies, independent of any SQL dialect.
//!
//! Agent clients resend the whole conversation on every request: turn k holds
//! the k previous messages, plus the same large `tools` array and `system`
//! prompt each time. Stored whole, a 100-turn conversation costs ~50x its
//! final transcript. Instead a body is split into parts that are stored once:
//!
//! - **Blobs** hold content by hash (first 16 bytes of BLAKE3 of the raw
//!   bytes). Content of [`codec::COMPRESS_MIN`] bytes or more is zstd
//!   compressed (level 3), smaller content is kept raw. A blob whose hash is
//!   already stored is neither compressed nor written again, so identical
//!   tool lists are shared across conversations too.
//! - **Message chains** hold `messages` (Anthropic, OpenAI chat) and `input`
//!   (OpenAI responses): each message is a blob of its compact JSON, and a
//!   chain node `H(parent node || message blob hash)` links it to the message
//!   before. A request that extends an earlier one adds only its new nodes;
//!   the trace keeps the head node. `cache_control` members move every turn
//!   (clients mark the last blocks), so they are taken out of content blocks
//!   before hashing and their places are kept in the skeleton as
//!   `[msg_index, block_index, value]` (plus the key position when it was not
//!   the last key).
//! - **Skeleton**: the per-trace rest of the body, a small JSON document: the
//!   original object with each stored-apart member left in place as `null`
//!   (so key order survives) and a list of references to fill them back in,
//!   compressed with a built-in zstd dictionary of the JSON that skeletons
//!   share (see `dictionary`), ~170 bytes for a Claude Code request.
//!   Request members `system`, `tools`, `functions`, `instructions` and
//!   response members `content` (Anthropic), `choices` (OpenAI chat) and
//!   `output` (OpenAI responses) become blob references when they are at
//!   least [`MIN_REF_BYTES`] long. A JSON body that is not an object is one
//!   blob; a body that is not JSON is one blob kept byte for byte.
//!
//! Reading reassembles a value equal to the stored JSON, keys in their
//! original order; serialised it is the compact form of the input. Text
//! bodies come back byte-identical (as a string when valid UTF-8).
//!
//! This module only splits and joins; a backend stores [`Decomposed`] parts
//! (insert-if-absent) and fetches what a [`Skeleton`] refers to.

mod codec;
mod decompose;
mod dictionary;
mod hash;
mod skeleton;

pub(crate) use codec::{decode, Codec, Encoder, COMPRESS_MIN};
pub(crate) use decompose::{
    decompose_request, decompose_response, ChainNode, Decomposed, ParsedBody,
};
pub(crate) use hash::Hash;
pub(crate) use skeleton::{Parts, Skeleton};

/// Members shorter than this (compact JSON bytes) stay inline in the skeleton.
pub(crate) const MIN_REF_BYTES: usize = 128;
