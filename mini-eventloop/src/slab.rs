//! The task slab: live tasks by slot, each slot with a generation.
//!
//! Invariant: a [`TaskId`] names the occupant of its slot only while the slot's generation
//! equals the id's; freeing a slot bumps its generation, so every older name (in wakers, in
//! the ready queues) stops matching and is ignored at lookup.

use std::rc::Rc;

use crate::record::TaskLane;
use crate::task::Runnable;
use crate::waker::TaskId;

/// One slot of the task slab.
pub(crate) struct Slot {
    /// Bumped every time the slot is freed, so old names stop matching.
    pub(crate) generation: u32,
    /// The task in the slot.
    pub(crate) task: Option<Rc<dyn Runnable>>,
    /// True while the task's name is in the ready queue (deduplicates wakes).
    pub(crate) scheduled: bool,
    /// The occupant's trace lane, unique for the runtime's life (zero-sized without the
    /// `trace` feature).
    pub(crate) lane: TaskLane,
}

/// The live tasks, by slot.
#[derive(Default)]
pub(crate) struct TaskSlab {
    /// All slots, occupied or free.
    pub(crate) slots: Vec<Slot>,
    /// Indices of free slots.
    free: Vec<u32>,
    /// Occupied slots.
    pub(crate) alive: usize,
}

impl TaskSlab {
    /// The name the next inserted task will get.
    pub(crate) fn next_id(&mut self) -> TaskId {
        let slot = match self.free.last() {
            Some(&i) => i,
            None => {
                // u32::MAX and u32::MAX - 1 are TaskId::MAIN and TaskId::SPAWNS; a process
                // cannot hold 4 billion tasks anyway.
                let i = u32::try_from(self.slots.len())
                    .ok()
                    .filter(|&i| i < u32::MAX - 1)
                    .expect("mini-eventloop: more than 4 billion live tasks");
                self.slots.push(Slot {
                    generation: 0,
                    task: None,
                    scheduled: false,
                    lane: TaskLane::ROOT,
                });
                self.free.push(i);
                i
            }
        };
        TaskId {
            slot,
            generation: self.slots[slot as usize].generation,
        }
    }

    /// Puts `task`, traced on `lane`, in the slot [`TaskSlab::next_id`] named, marked
    /// scheduled.
    pub(crate) fn insert(&mut self, task: Rc<dyn Runnable>, lane: TaskLane) {
        let slot = self.free.pop().expect("next_id reserved a slot");
        let s = &mut self.slots[slot as usize];
        s.task = Some(task);
        s.scheduled = true;
        s.lane = lane;
        self.alive += 1;
    }

    /// Removes the task named `id` (if it is still the occupant) and returns it, so the
    /// caller can drop it after releasing the slab.
    pub(crate) fn remove(&mut self, id: TaskId) -> Option<Rc<dyn Runnable>> {
        let s = self.slots.get_mut(id.slot as usize)?;
        if s.generation != id.generation {
            return None;
        }
        let task = s.task.take()?;
        s.generation = s.generation.wrapping_add(1);
        s.scheduled = false;
        self.free.push(id.slot);
        self.alive -= 1;
        Some(task)
    }

    /// Moves every task out (shutdown).
    pub(crate) fn take_all(&mut self) -> Vec<Rc<dyn Runnable>> {
        let ids: Vec<TaskId> = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.task.is_some())
            .map(|(i, s)| TaskId {
                slot: i as u32,
                generation: s.generation,
            })
            .collect();
        ids.into_iter().filter_map(|id| self.remove(id)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A no-op task for slab tests.
    struct Nothing;
    impl Runnable for Nothing {
        fn poll_task(&self) -> bool {
            true
        }
        fn cancel(&self) {}
    }

    /// A freed slot is reused with a new generation, so the old name no longer matches.
    #[test]
    fn slab_reuses_slots_with_a_new_generation() {
        let mut slab = TaskSlab::default();
        let first = slab.next_id();
        slab.insert(Rc::new(Nothing), TaskLane::ROOT);
        assert!(slab.remove(first).is_some());
        assert!(slab.remove(first).is_none(), "removing twice");
        let second = slab.next_id();
        slab.insert(Rc::new(Nothing), TaskLane::ROOT);
        assert_eq!(second.slot, first.slot);
        assert_ne!(second.generation, first.generation);
        assert!(
            slab.remove(first).is_none(),
            "a stale name removed the new task"
        );
        assert_eq!(slab.alive, 1);
        assert_eq!(slab.take_all().len(), 1);
        assert_eq!(slab.alive, 0);
    }
}
