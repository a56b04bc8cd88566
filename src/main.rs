//! virtsmoke: boots guests through libvirt, checks them, and reports.

mod plan;
mod scenario;
mod lab;

fn main() {
    println!("virtsmoke");
}
