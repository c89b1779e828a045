// Tiny TCP name server/client used by probe.sh to check reachability between
// containers. std only, so `rustc -O probe-echo.rs` builds it without cargo.
//
//   probe-echo serve PORT                 answer every connection with "<name>\n"
//                                         (name = $ORBIT_NODE, else the hostname)
//   probe-echo get HOST:PORT [TIMEOUT_MS] connect, print the answer, exit 0;
//                                         exit 1 on resolve/connect/read failure or timeout
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::time::Duration;

fn node_name() -> String {
    std::env::var("ORBIT_NODE").unwrap_or_else(|_| {
        std::fs::read_to_string("/etc/hostname")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "unknown".into())
    })
}

fn serve(port: u16) -> ! {
    let listener = TcpListener::bind(("0.0.0.0", port)).unwrap_or_else(|e| {
        eprintln!("probe-echo: bind 0.0.0.0:{port}: {e}");
        std::process::exit(2)
    });
    let name = node_name();
    eprintln!("probe-echo: {name} serving on 0.0.0.0:{port}");
    for conn in listener.incoming() {
        if let Ok(mut s) = conn {
            let _ = s.write_all(format!("{name}\n").as_bytes());
        }
    }
    unreachable!()
}

fn get(target: &str, timeout: Duration) -> Result<String, String> {
    let addrs: Vec<_> = target
        .to_socket_addrs()
        .map_err(|e| format!("resolve {target}: {e}"))?
        .collect();
    let mut last = format!("resolve {target}: no addresses");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(mut s) => {
                s.set_read_timeout(Some(timeout)).map_err(|e| e.to_string())?;
                let mut buf = String::new();
                return match s.read_to_string(&mut buf) {
                    Ok(_) if !buf.is_empty() => Ok(buf.trim().to_string()),
                    Ok(_) => Err(format!("{addr}: empty answer")),
                    Err(e) => Err(format!("{addr}: read: {e}")),
                };
            }
            Err(e) => last = format!("connect {addr}: {e}"),
        }
    }
    Err(last)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("serve") if args.len() == 3 => serve(args[2].parse().expect("PORT")),
        Some("get") if args.len() == 3 || args.len() == 4 => {
            let ms = args.get(3).map(|s| s.parse().expect("TIMEOUT_MS")).unwrap_or(2000);
            match get(&args[2], Duration::from_millis(ms)) {
                Ok(answer) => println!("{answer}"),
                Err(e) => {
                    eprintln!("probe-echo: {e}");
                    std::process::exit(1)
                }
            }
        }
        _ => {
            eprintln!("usage: probe-echo serve PORT | probe-echo get HOST:PORT [TIMEOUT_MS]");
            std::process::exit(64)
        }
    }
}
