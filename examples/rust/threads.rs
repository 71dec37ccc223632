// threads.rs - Rust's std under Ember, output independent of the machine
// (the same natively and in a microVM): std::thread with a Mutex and an
// mpsc channel, thread::scope, a panic caught with catch_unwind (and one in a
// thread, seen by join), std::fs on /tmp, and the exit status.
// Usage: threads [EXIT_STATUS]
use std::fs;
use std::io::Write;
use std::sync::{mpsc, Arc, Mutex};
use std::thread;

fn main() {
    println!("hello from rust");

    let counter = Arc::new(Mutex::new(0u64));
    let (tx, rx) = mpsc::channel();
    let mut handles = Vec::new();
    for id in 0..4u64 {
        let counter = Arc::clone(&counter);
        let tx = tx.clone();
        handles.push(thread::spawn(move || {
            for _ in 0..1000 {
                *counter.lock().unwrap() += 1;
            }
            tx.send(id * id).unwrap();
        }));
    }
    drop(tx);
    for h in handles {
        h.join().unwrap();
    }
    let mut squares: Vec<u64> = rx.iter().collect();
    squares.sort();
    println!("counter: {} squares: {:?}", *counter.lock().unwrap(), squares);

    let data = vec![1u64, 2, 3, 4, 5, 6, 7, 8];
    let sums: Vec<u64> = thread::scope(|s| {
        let hs: Vec<_> = data.chunks(2).map(|c| s.spawn(move || c.iter().sum::<u64>())).collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    println!("scoped sums: {:?}", sums);

    std::panic::set_hook(Box::new(|_| {}));
    let caught = std::panic::catch_unwind(|| {
        let v: Vec<u32> = Vec::new();
        v[3]
    });
    println!("catch_unwind caught a panic: {}", caught.is_err());
    let joined = thread::spawn(|| panic!("in a thread")).join();
    println!("a panicking thread's join is Err: {}", joined.is_err());

    let dir = "/tmp/ember-rust-example";
    let _ = fs::remove_dir_all(dir);
    fs::create_dir(dir).unwrap();
    let path = format!("{}/file.txt", dir);
    let mut f = fs::File::create(&path).unwrap();
    writeln!(f, "line one").unwrap();
    writeln!(f, "line two").unwrap();
    drop(f);
    let text = fs::read_to_string(&path).unwrap();
    let names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    println!("fs: {} lines, {} bytes, entries {:?}", text.lines().count(), text.len(), names);
    fs::remove_dir_all(dir).unwrap();

    let code: i32 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(0);
    println!("exit {}", code);
    std::process::exit(code);
}
