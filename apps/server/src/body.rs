//! Request bodies into the object-store port (the multipart file route's fields). actix's
//! payload and multipart fields live on one worker thread (`!Send`) while the port takes a
//! `Send` stream, so a task on the worker forwards chunks through a small bounded channel:
//! the store pulls at its own pace (backpressure), and memory stays a few chunks deep
//! whatever the body's size. The local store's presigned PUT needs no such stage: its
//! `put_checked` takes the request body as it is.

use bytes::Bytes;
use domain::ByteStream;
use futures_util::{Stream, StreamExt as _};

/// Chunks in flight between the request and the store.
const DEPTH: usize = 4;

/// Adapts a `!Send` body stream for the object-store port.
pub fn forward<S, E>(body: S) -> ByteStream
where
    S: Stream<Item = Result<Bytes, E>> + 'static,
    E: std::fmt::Display,
{
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(DEPTH);
    actix_web::rt::spawn(async move {
        let mut body = std::pin::pin!(body);
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| std::io::Error::other(e.to_string()));
            let failed = chunk.is_err();
            // The store stopped reading (a limit, say): stop too.
            if tx.send(chunk).await.is_err() || failed {
                break;
            }
        }
    });
    Box::pin(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }))
}
