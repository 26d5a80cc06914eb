//! Sign-ins from one block (an IPv6 address's /48, an IPv4 address) are
//! counted under one lock in the database, so that the throttle's limit is
//! exact across instances. Waiting for it there holds a connection of the
//! pool: a flood of sign-ins from one address held every connection, and
//! everyone's pages waited behind it. So on each instance they wait here
//! first, one of a block in the database at a time; the wait is bounded by
//! the request's time, the waiters by the connections an address may hold.
//!
//! A lock per block, made when first wanted and forgotten when no one holds
//! or awaits it: the table holds only the blocks signing in now.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::OwnedMutexGuard;

#[derive(Default)]
pub struct BlockGates {
    blocks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// A block's turn at the database's gate, given back when dropped (a
/// request given up while waiting included).
pub struct BlockTurn<'a> {
    gates: &'a BlockGates,
    block: String,
    lock: Option<Arc<tokio::sync::Mutex<()>>>,
    guard: Option<OwnedMutexGuard<()>>,
}

impl BlockGates {
    /// Waits for `block`'s turn.
    pub async fn enter(&self, block: &str) -> BlockTurn<'_> {
        let lock = {
            let mut blocks = self.blocks.lock().unwrap_or_else(|e| e.into_inner());
            blocks.entry(block.to_owned()).or_default().clone()
        };
        let mut turn = BlockTurn { gates: self, block: block.to_owned(), lock: Some(lock.clone()), guard: None };
        turn.guard = Some(lock.lock_owned().await);
        turn
    }

    /// Blocks with someone holding or awaiting their turn.
    pub fn blocks(&self) -> usize {
        self.blocks.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

impl Drop for BlockTurn<'_> {
    fn drop(&mut self) {
        let mut blocks = self.gates.blocks.lock().unwrap_or_else(|e| e.into_inner());
        drop(self.guard.take());
        drop(self.lock.take());
        // Forgotten when only the table holds it.
        if blocks.get(&self.block).is_some_and(|l| Arc::strong_count(l) == 1) {
            blocks.remove(&self.block);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_block_s_sign_ins_take_turns_others_do_not_wait_and_the_table_forgets_them() {
        let gates = BlockGates::default();
        let first = gates.enter("203.0.113.9").await;
        let other = tokio::time::timeout(Duration::from_secs(1), gates.enter("2001:db8:7::")).await;
        assert!(other.is_ok(), "another block does not wait");
        drop(other);
        let second = tokio::time::timeout(Duration::from_millis(100), gates.enter("203.0.113.9")).await;
        assert!(second.is_err(), "the same block waits");
        assert_eq!(gates.blocks(), 1, "the waiter given up is forgotten; the holder is not");
        drop(first);
        assert_eq!(gates.blocks(), 0);
        let again = tokio::time::timeout(Duration::from_secs(1), gates.enter("203.0.113.9")).await;
        assert!(again.is_ok(), "free again");
    }
}
