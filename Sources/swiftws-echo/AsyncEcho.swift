import Glibc
import SwiftWS

/// `swiftws-echo --async`: the same echo server on the async API — each connection a task that
/// iterates `socket.messages` and awaits `send` — so that the benchmark measures the async API
/// next to the callback API in one run (bench/echo/run.sh, server `swiftws-async`). Same flags,
/// same `listening on HOST:PORT` line, same graceful shutdown on SIGINT/SIGTERM.
/// `signals`: installed by main.
///
/// The server runs in a detached task while the main thread blocks in `sem_wait`: without a
/// top-level `await` the main thread never enters dispatch's main queue, whose `sigsuspend`
/// valgrind 3.19 crashes on, so `bench/echo/instructions.sh` and callgrind can count the async
/// server's instructions per message as they do the callback server's.
func startAsyncEcho(_ arguments: Arguments, signals: TerminationSignals) -> Never {
    Task.detached { await runAsyncEcho(arguments, signals: signals) }
    var never = sem_t()
    sem_init(&never, 0, 0)
    while true { sem_wait(&never) }
}

/// Serves until SIGINT/SIGTERM, then shuts down (1001) and exits the process.
func runAsyncEcho(_ arguments: Arguments, signals: TerminationSignals) async -> Never {
    let server: AsyncWebSocketServer
    do {
        let socketOptions = AsyncSocketOptions(runsHandlersOnLoop: arguments.asyncHandlersOnLoop)
        server = try await AsyncWebSocketServer.start(host: arguments.host, port: arguments.port, options: arguments.options,
                                                      socketOptions: socketOptions) { socket in
            for try await message in socket.messages { try await socket.send(message) }
        }
    } catch {
        writeText("swiftws-echo: \(error)\n", to: 2)
        exit(1)
    }
    let address = server.localAddress
    let host = address.family == .ipv6 ? "[\(address.host)]" : address.host
    writeText("listening on \(host):\(address.port ?? 0)\n", to: 1)
    await signals.wait()
    await server.shutdown(timeout: .seconds(2))
    exit(0)
}
