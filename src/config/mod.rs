//! config: Kamal configuration read exactly as Kamal 2.11 reads it.
