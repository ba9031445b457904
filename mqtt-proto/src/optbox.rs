//! [`OptBox`]: a property set that takes one pointer while it is empty.

use core::fmt;
use core::ops::{Deref, DerefMut};

/// A property set with a shared, statically allocated empty value.
///
/// Implemented by every property struct of this crate; it is what lets [`OptBox`] hand out
/// a reference to an empty set without allocating one.
pub trait EmptySet: Default + 'static {
    /// The empty set.
    fn empty() -> &'static Self;
    /// Whether no property is set.
    fn is_empty_set(&self) -> bool;
}

/// A `T` on the heap, or nothing while `T` would be empty.
///
/// Packets carry their MQTT 5.0 properties in an `OptBox`: most packets have none (and
/// 3.1.1 packets never do), so the packet stays small and moving it stays cheap. Reading
/// goes through [`Deref`] and sees the empty set when nothing is stored; the first
/// mutable access ([`DerefMut`]) allocates.
///
/// ```
/// use mqtt_proto::{Publish, QoSPid, TopicName};
/// let mut p = Publish::new(TopicName::from_static("a/b"), QoSPid::AtMostOnce, "hi");
/// assert_eq!(p.properties.message_expiry_interval, None);
/// p.properties.message_expiry_interval = Some(60);
/// assert_eq!(p.properties.message_expiry_interval, Some(60));
/// ```
pub struct OptBox<T: EmptySet>(Option<Box<T>>);

impl<T: EmptySet> OptBox<T> {
    /// Nothing stored: reads see the empty set.
    #[must_use]
    pub const fn none() -> Self {
        Self(None)
    }

    /// The value, moved out of its box (the empty set if none is stored).
    #[must_use]
    pub fn into_inner(this: Self) -> T {
        this.0.map(|b| *b).unwrap_or_default()
    }

    /// The stored value, if one is allocated: code that only needs to look at a non-empty
    /// set can skip the empty one.
    #[inline]
    #[must_use]
    pub fn get(this: &Self) -> Option<&T> {
        this.0.as_deref()
    }

    /// The stored value, if one is allocated: changes that only clear properties need not
    /// allocate an empty set first.
    #[must_use]
    pub fn get_mut(this: &mut Self) -> Option<&mut T> {
        this.0.as_deref_mut()
    }

    pub(crate) fn from_box(b: Box<T>) -> Self {
        Self(Some(b))
    }
}

impl<T: EmptySet> Default for OptBox<T> {
    fn default() -> Self {
        Self(None)
    }
}

impl<T: EmptySet> From<T> for OptBox<T> {
    /// Boxes `value` unless it is empty.
    fn from(value: T) -> Self {
        if value.is_empty_set() {
            Self(None)
        } else {
            Self(Some(Box::new(value)))
        }
    }
}

impl<T: EmptySet> Deref for OptBox<T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        match &self.0 {
            Some(b) => b,
            None => T::empty(),
        }
    }
}

impl<T: EmptySet> DerefMut for OptBox<T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        self.0.get_or_insert_with(Box::default)
    }
}

impl<T: EmptySet + Clone> Clone for OptBox<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

/// Compares the sets, so an allocated empty set equals none.
impl<T: EmptySet + PartialEq> PartialEq for OptBox<T> {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl<T: EmptySet + Eq> Eq for OptBox<T> {}

impl<T: EmptySet + fmt::Debug> fmt::Debug for OptBox<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PublishProperties;

    #[test]
    fn empty_reads_without_allocating_and_compares_by_value() {
        let mut a: OptBox<PublishProperties> = OptBox::none();
        assert!(a.is_empty());
        assert!(OptBox::get(&a).is_none());
        let b: OptBox<PublishProperties> = PublishProperties::default().into();
        assert!(OptBox::get(&b).is_none());
        a.topic_alias = None; // a mutable access allocates an empty set
        assert!(OptBox::get(&a).is_some());
        assert_eq!(a, b);
        a.message_expiry_interval = Some(5);
        assert_ne!(a, b);
        assert_eq!(OptBox::into_inner(a).message_expiry_interval, Some(5));
    }
}
