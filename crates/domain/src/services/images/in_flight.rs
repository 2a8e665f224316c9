//! Confirmations under way in this process, one per key: a second confirmation of a key
//! waits for the first instead of racing it, then answers what it decided.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use tokio::sync::{Mutex as Turn, OwnedMutexGuard};

use crate::storage::ObjectKey;

/// One lock per key being confirmed; a key's entry goes when its last holder does.
#[derive(Debug, Default)]
pub(super) struct InFlight {
    keys: Mutex<HashMap<ObjectKey, Weak<Turn<()>>>>,
}

impl InFlight {
    /// Holds `key` until the guard drops; `true` when another confirmation held it first
    /// (then it has finished, and the record says what it decided).
    pub(super) async fn enter(&self, key: &ObjectKey) -> (OwnedMutexGuard<()>, bool) {
        let lock = {
            let mut keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
            keys.retain(|_, held| held.strong_count() > 0);
            if let Some(lock) = keys.get(key).and_then(Weak::upgrade) {
                lock
            } else {
                let lock = Arc::new(Turn::new(()));
                keys.insert(key.clone(), Arc::downgrade(&lock));
                lock
            }
        };
        match Arc::clone(&lock).try_lock_owned() {
            Ok(guard) => (guard, false),
            Err(_) => (lock.lock_owned().await, true),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_second_confirmation_of_a_key_waits_for_the_first_and_knows_it_waited() {
        let in_flight = Arc::new(InFlight::default());
        let key = ObjectKey::parse("chat/1/a.png").unwrap();
        let other = ObjectKey::parse("chat/1/b.png").unwrap();
        let (first, waited) = in_flight.enter(&key).await;
        assert!(!waited);
        // Another key is not held up.
        let (_b, waited) = in_flight.enter(&other).await;
        assert!(!waited);
        let second = tokio::spawn({
            let in_flight = Arc::clone(&in_flight);
            let key = key.clone();
            async move { in_flight.enter(&key).await.1 }
        });
        tokio::task::yield_now().await;
        assert!(
            !second.is_finished(),
            "the second waits while the first holds the key"
        );
        drop(first);
        assert!(second.await.unwrap(), "and knows it waited");
        let (_again, waited) = in_flight.enter(&key).await;
        assert!(!waited, "a key nobody holds is entered at once");
        assert!(in_flight.keys.lock().unwrap().len() <= 2);
    }
}
