//! The local lab: libvirtd hosts in their own namespaces.
