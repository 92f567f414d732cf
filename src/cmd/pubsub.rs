//! Pub/Sub commands: SUBSCRIBE UNSUBSCRIBE PSUBSCRIBE PUNSUBSCRIBE PUBLISH
//! PUBSUB. The subscription tables and delivery live in `server::pubsub`.
//!
//! In RESP2 a subscribed client may only run the commands flagged
//! `PUBSUB_CONTEXT` (the dispatcher enforces it); in RESP3 it may run
//! anything and messages arrive as pushes between replies.

use super::{flags::*, CmdResult, CommandSpec, Ctx, ErrorReply};
use crate::spec;

/// The pubsub family.
pub static COMMANDS: &[CommandSpec] = &[
    spec!(
        "subscribe",
        -2,
        PUBSUB | LOADING | STALE | PUBSUB_CONTEXT,
        0,
        0,
        0,
        "pubsub",
        subscribe
    ),
    spec!(
        "unsubscribe",
        -1,
        PUBSUB | LOADING | STALE | PUBSUB_CONTEXT,
        0,
        0,
        0,
        "pubsub",
        unsubscribe
    ),
    spec!(
        "psubscribe",
        -2,
        PUBSUB | LOADING | STALE | PUBSUB_CONTEXT,
        0,
        0,
        0,
        "pubsub",
        psubscribe
    ),
    spec!(
        "punsubscribe",
        -1,
        PUBSUB | LOADING | STALE | PUBSUB_CONTEXT,
        0,
        0,
        0,
        "pubsub",
        punsubscribe
    ),
    spec!(
        "publish",
        3,
        PUBSUB | LOADING | STALE | FAST,
        0,
        0,
        0,
        "pubsub",
        publish
    ),
    CommandSpec {
        name: "pubsub",
        arity: -2,
        flags: CONTAINER,
        first_key: 0,
        last_key: 0,
        step: 0,
        group: "pubsub",
        handler: pubsub_help,
        subcommands: &[
            spec!(
                "pubsub|channels",
                -2,
                PUBSUB | LOADING | STALE,
                0,
                0,
                0,
                "pubsub",
                pubsub_channels
            ),
            spec!(
                "pubsub|numsub",
                -2,
                PUBSUB | LOADING | STALE,
                0,
                0,
                0,
                "pubsub",
                pubsub_numsub
            ),
            spec!(
                "pubsub|numpat",
                2,
                PUBSUB | LOADING | STALE,
                0,
                0,
                0,
                "pubsub",
                pubsub_numpat
            ),
            spec!(
                "pubsub|help",
                2,
                LOADING | STALE,
                0,
                0,
                0,
                "pubsub",
                pubsub_help
            ),
        ],
    },
];

/// ```text
/// SUBSCRIBE channel [channel ...]
/// ```
/// One `["subscribe", channel, count]` confirmation per argument.
fn subscribe(ctx: &mut Ctx) -> CmdResult {
    for &ch in &ctx.args[1..] {
        ctx.srv.pubsub_subscribe_channel(ctx.client, ch);
    }
    Ok(())
}

/// ```text
/// UNSUBSCRIBE [channel [channel ...]]
/// ```
/// Without channels: from all of them, or `["unsubscribe", nil, count]`
/// when subscribed to none.
fn unsubscribe(ctx: &mut Ctx) -> CmdResult {
    if ctx.argc() == 1 {
        ctx.srv.pubsub_unsubscribe_all_channels(ctx.client);
    }
    for &ch in &ctx.args[1..] {
        ctx.srv.pubsub_unsubscribe_channel(ctx.client, ch);
    }
    Ok(())
}

/// ```text
/// PSUBSCRIBE pattern [pattern ...]
/// ```
fn psubscribe(ctx: &mut Ctx) -> CmdResult {
    for &p in &ctx.args[1..] {
        ctx.srv.pubsub_subscribe_pattern(ctx.client, p);
    }
    Ok(())
}

/// ```text
/// PUNSUBSCRIBE [pattern [pattern ...]]
/// ```
fn punsubscribe(ctx: &mut Ctx) -> CmdResult {
    if ctx.argc() == 1 {
        ctx.srv.pubsub_unsubscribe_all_patterns(ctx.client);
    }
    for &p in &ctx.args[1..] {
        ctx.srv.pubsub_unsubscribe_pattern(ctx.client, p);
    }
    Ok(())
}

/// ```text
/// PUBLISH channel message
/// ```
/// Replies the number of deliveries (channel subscribers plus one per
/// matching pattern subscription).
// Redis also forces PUBLISH into the replication stream (not the AOF);
// that belongs to the replication work, since it changes no data here.
fn publish(ctx: &mut Ctx) -> CmdResult {
    let (ch, msg) = (ctx.arg(1), ctx.arg(2));
    if ctx.srv.sentinel.is_some() {
        // A sentinel takes hellos from the others by PUBLISH and nothing
        // else (Redis: sentinelPublishCommand).
        if ch != crate::sentinel::proto::HELLO_CHANNEL.as_bytes() {
            return Err(ErrorReply::lit(
                "ERR Only HELLO messages are accepted by Sentinel instances.",
            ));
        }
        let payload = String::from_utf8_lossy(msg).into_owned();
        ctx.srv.sentinel_hello(&payload);
        ctx.client.int(1);
        return Ok(());
    }
    let n = ctx.srv.pubsub_publish(ctx.client, ch, msg);
    ctx.client.int(n);
    Ok(())
}

/// ```text
/// PUBSUB CHANNELS [pattern]
/// ```
fn pubsub_channels(ctx: &mut Ctx) -> CmdResult {
    if ctx.argc() > 3 {
        return Err(ErrorReply::lit(
            "ERR unknown subcommand or wrong number of arguments for 'channels'. Try PUBSUB HELP.",
        ));
    }
    let pattern = ctx.args.get(2).copied();
    let chans = ctx.srv.pubsub_channels(pattern);
    ctx.client.bulks(chans.iter().map(|c| c.as_slice()));
    Ok(())
}

/// ```text
/// PUBSUB NUMSUB [channel [channel ...]]
/// ```
/// A flat array `channel, count, ...` (an array in RESP3 too, as in 7.0).
fn pubsub_numsub(ctx: &mut Ctx) -> CmdResult {
    let chans = &ctx.args[2..];
    ctx.client.array(chans.len() * 2);
    for &ch in chans {
        let n = ctx.srv.pubsub_numsub(ch);
        ctx.client.bulk(ch);
        ctx.client.int(n as i64);
    }
    Ok(())
}

/// ```text
/// PUBSUB NUMPAT
/// ```
/// The number of distinct patterns subscribed to (by any client).
fn pubsub_numpat(ctx: &mut Ctx) -> CmdResult {
    let n = ctx.srv.pubsub.patterns.len();
    ctx.client.int(n as i64);
    Ok(())
}

/// ```text
/// PUBSUB HELP
/// ```
fn pubsub_help(ctx: &mut Ctx) -> CmdResult {
    if ctx.argc() == 1 {
        return Err(ErrorReply::lit(
            "ERR wrong number of arguments for 'pubsub' command",
        ));
    }
    let lines = [
        "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CHANNELS [<pattern>]",
        "    Return the currently active channels matching a <pattern> (default: '*').",
        "NUMPAT",
        "    Return number of subscriptions to patterns.",
        "NUMSUB [<channel> ...]",
        "    Return the number of subscribers for the specified channels, excluding",
        "    pattern subscriptions(default: no channels).",
        "SHARDCHANNELS [<pattern>]",
        "    Return the currently active shard level channels matching a <pattern> (default: '*').",
        "SHARDNUMSUB [<shardchannel> ...]",
        "    Return the number of subscribers for the specified shard level channel(s)",
        "HELP",
        "    Prints this help.",
    ];
    super::help_reply(ctx, &lines)
}
