//! Comparisons of two catalog versions, made off the request workers one at
//! a time, and kept.
//!
//! Any signed-in person may ask for any pair of versions, and a pair whose
//! fields hold long texts of many differences takes the character diff up
//! to its deadline. Made on a request worker, a few such requests at once
//! would hold every worker; made again for each request, one person could
//! keep a core busy. So a comparison waits its turn (one at a time, on a
//! blocking thread), and a pair of versions, which never change once
//! imported, is compared once per language; those asking for it meanwhile
//! wait for that one.

use crate::i18n::Lang;
use mamori_app::turns::{Turn, Turns};
use mamori_app::Refused;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::OnceCell;

/// A part of a text in a comparison: unchanged, or only on this side.
pub struct Segment {
    pub changed: bool,
    pub text: String,
}

/// One field of one requirement, before and after.
pub struct FieldChange {
    pub number: u32,
    pub field: String,
    pub old: Vec<Segment>,
    pub new: Vec<Segment>,
}

/// What changed between two versions: a line per requirement added,
/// removed or changed, and each changed field side by side.
#[derive(Default)]
pub struct Compared {
    pub lines: Vec<String>,
    pub changes: Vec<FieldChange>,
}

/// Old and new text, each cut into what both share and what only it has
/// (character by character: Japanese has no spaces between words). Past
/// `deadline`, the finer differences are given up for a coarser answer.
pub fn segments(old: &str, new: &str, deadline: Instant) -> (Vec<Segment>, Vec<Segment>) {
    let diff = similar::TextDiff::configure().deadline(deadline).diff_chars(old, new);
    let (mut o, mut n): (Vec<Segment>, Vec<Segment>) = (Vec::new(), Vec::new());
    let push = |side: &mut Vec<Segment>, changed: bool, text: &str| match side.last_mut() {
        Some(last) if last.changed == changed => last.text.push_str(text),
        _ => side.push(Segment { changed, text: text.to_owned() }),
    };
    for change in diff.iter_all_changes() {
        let text = change.value();
        match change.tag() {
            similar::ChangeTag::Equal => {
                push(&mut o, false, text);
                push(&mut n, false, text);
            }
            similar::ChangeTag::Delete => push(&mut o, true, text),
            similar::ChangeTag::Insert => push(&mut n, true, text),
        }
    }
    (o, n)
}

/// Pairs of versions kept at the most; past it, those made are let go.
const KEPT: usize = 16;

/// Which versions, old then new, in which language.
type Key = (i64, i64, Lang);

pub struct Comparisons {
    turn: Turns,
    kept: Mutex<HashMap<Key, Arc<OnceCell<Arc<Compared>>>>>,
    made: AtomicUsize,
}

impl Default for Comparisons {
    fn default() -> Self {
        Comparisons { turn: Turns::new(1), kept: Mutex::default(), made: AtomicUsize::new(0) }
    }
}

impl Comparisons {
    /// The comparison of versions `old` and `new` in `lang`: the one kept,
    /// or made by `make` (once, however many ask at the same time).
    pub async fn of_versions(
        &self,
        (old, new, lang): Key,
        make: impl FnOnce() -> Compared + Send + 'static,
    ) -> Result<Arc<Compared>, Refused> {
        let cell = {
            let mut kept = self.kept.lock().expect("not poisoned");
            if kept.len() >= KEPT && !kept.contains_key(&(old, new, lang)) {
                // Those still being made stay: others wait on them.
                kept.retain(|_, cell| !cell.initialized());
            }
            kept.entry((old, new, lang)).or_default().clone()
        };
        cell.get_or_try_init(|| async { self.off_workers(make).await.map(Arc::new) }).await.cloned()
    }

    /// Runs `make` on a blocking thread once it is its turn (one at a time).
    pub async fn off_workers<T: Send + 'static>(
        &self,
        make: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Refused> {
        let turn = self.turn.take().await?;
        self.made.fetch_add(1, Ordering::SeqCst);
        turn.run(make).await
    }

    /// Takes the one turn (a test holds it to make others wait).
    pub async fn hold_turn(&self) -> Turn {
        self.turn.hold_all().await
    }

    /// How many comparisons were made since the start.
    pub fn made(&self) -> usize {
        self.made.load(Ordering::SeqCst)
    }

    /// The most made at the same time since the start.
    pub fn peak(&self) -> usize {
        self.turn.peak()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn marked(side: &[Segment]) -> Vec<(bool, &str)> {
        side.iter().map(|s| (s.changed, s.text.as_str())).collect()
    }

    /// Two versions whose fields hold long texts of many differences kept a
    /// core as long as the character diff took; past the comparison's
    /// deadline, a field is shown changed as a whole.
    #[test]
    fn past_the_deadline_a_field_is_shown_changed_as_a_whole() {
        let (old, new) = segments("X共通Y", "共通Z", Instant::now() + Duration::from_secs(60));
        assert_eq!(marked(&old), [(true, "X"), (false, "共通"), (true, "Y")]);
        assert_eq!(marked(&new), [(false, "共通"), (true, "Z")]);
        let (old, new) = segments("X共通Y", "共通Z", Instant::now() - Duration::from_secs(1));
        assert_eq!((marked(&old), marked(&new)), (vec![(true, "X共通Y")], vec![(true, "共通Z")]));
    }

    /// Asking for ever more pairs keeps no more than `KEPT` of them.
    #[tokio::test]
    async fn no_more_than_sixteen_pairs_are_kept() {
        let comparisons = Comparisons::default();
        for old in 0..40 {
            comparisons.of_versions((old, 100, Lang::Ja), Compared::default).await.unwrap();
            assert!(comparisons.kept.lock().unwrap().len() <= KEPT);
        }
        assert_eq!(comparisons.made(), 40);
        comparisons.of_versions((39, 100, Lang::Ja), Compared::default).await.unwrap();
        assert_eq!(comparisons.made(), 40, "the last is kept");
    }
}
