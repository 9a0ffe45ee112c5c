//! A doubly linked list of keys in a slab, with an index from key to
//! node: the one data structure both eviction policies need (LRU moves a
//! node to the head on a hit, SIEVE walks a hand from the tail and unlinks
//! from the middle), each operation O(1).
//!
//! Node slots are reused after an unlink, so a caller that keeps a node
//! index (SIEVE's hand) must move it off a node before unlinking it.

use std::collections::HashMap;
use std::hash::Hash;

/// The index of no node.
pub(crate) const NIL: usize = usize::MAX;

pub(crate) struct Node<K> {
    pub(crate) key: K,
    /// Towards the head (newer).
    pub(crate) prev: usize,
    /// Towards the tail (older).
    pub(crate) next: usize,
    /// SIEVE's visited bit; LRU leaves it alone.
    pub(crate) visited: bool,
}

/// Keys from the head (newest) to the tail (oldest).
pub(crate) struct List<K> {
    nodes: Vec<Option<Node<K>>>,
    free: Vec<usize>,
    pub(crate) head: usize,
    pub(crate) tail: usize,
    index: HashMap<K, usize>,
}

impl<K: Hash + Eq + Clone> List<K> {
    pub(crate) fn new() -> List<K> {
        List {
            nodes: Vec::new(),
            free: Vec::new(),
            head: NIL,
            tail: NIL,
            index: HashMap::new(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    pub(crate) fn find(&self, key: &K) -> Option<usize> {
        self.index.get(key).copied()
    }

    pub(crate) fn node(&self, at: usize) -> &Node<K> {
        self.nodes[at].as_ref().expect("a linked node index")
    }

    pub(crate) fn node_mut(&mut self, at: usize) -> &mut Node<K> {
        self.nodes[at].as_mut().expect("a linked node index")
    }

    /// Links `key` at the head; a key already present is left where it is.
    pub(crate) fn push_head(&mut self, key: K) -> usize {
        if let Some(at) = self.find(&key) {
            return at;
        }
        let node = Node {
            key: key.clone(),
            prev: NIL,
            next: self.head,
            visited: false,
        };
        let at = match self.free.pop() {
            Some(at) => {
                self.nodes[at] = Some(node);
                at
            }
            None => {
                self.nodes.push(Some(node));
                self.nodes.len() - 1
            }
        };
        if self.head != NIL {
            self.node_mut(self.head).prev = at;
        }
        self.head = at;
        if self.tail == NIL {
            self.tail = at;
        }
        self.index.insert(key, at);
        at
    }

    /// Unlinks node `at` and returns its key.
    pub(crate) fn unlink(&mut self, at: usize) -> K {
        let node = self.nodes[at].take().expect("a linked node index");
        if node.prev == NIL {
            self.head = node.next;
        } else {
            self.node_mut(node.prev).next = node.next;
        }
        if node.next == NIL {
            self.tail = node.prev;
        } else {
            self.node_mut(node.next).prev = node.prev;
        }
        self.free.push(at);
        self.index.remove(&node.key);
        node.key
    }

    /// Moves node `at` to the head.
    pub(crate) fn move_to_head(&mut self, at: usize) {
        if self.head == at {
            return;
        }
        let visited = self.node(at).visited;
        let key = self.unlink(at);
        let new = self.push_head(key);
        self.node_mut(new).visited = visited;
    }

    #[cfg(test)]
    pub(crate) fn keys(&self) -> Vec<K> {
        let mut out = Vec::new();
        let mut at = self.head;
        while at != NIL {
            out.push(self.node(at).key.clone());
            at = self.node(at).next;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_unlinks_and_reuses_slots() {
        let mut l = List::new();
        for k in 1..=4 {
            l.push_head(k);
        }
        assert_eq!(l.keys(), [4, 3, 2, 1]);
        let two = l.find(&2).unwrap();
        assert_eq!(l.unlink(two), 2);
        assert_eq!(l.keys(), [4, 3, 1]);
        l.move_to_head(l.find(&1).unwrap());
        assert_eq!(l.keys(), [1, 4, 3]);
        l.push_head(5);
        assert_eq!(l.keys(), [5, 1, 4, 3]);
        assert_eq!(l.len(), 4);
        // Unlink head and tail: the ends follow.
        l.unlink(l.head);
        l.unlink(l.tail);
        assert_eq!(l.keys(), [1, 4]);
        assert_eq!(l.node(l.tail).key, 4);
    }
}
