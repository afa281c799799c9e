import Glibc
@testable import SwiftWSEndpoints
@testable import SwiftWSTransport
import SwiftWSTestSupport

/// A peer program (Python `websockets`, Node `ws`) run as a child process for interop tests,
/// with pipes to its stdin and stdout. Everything is bounded: reads take a timeout and `finish`
/// kills a child that overstays.
final class PeerProcess {
    let pid: pid_t
    private var stdinFD: Int32
    private let stdoutFD: Int32
    private var buffered: [UInt8] = []
    private(set) var exitStatus: Int32?

    /// The repository root, from this file's path (Tests/SwiftWSEndpointsTests/PeerProcess.swift).
    static let repositoryRoot: String = {
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/")
    }()

    static var peersDirectory: String { repositoryRoot + "/Tests/Peers" }
    static var python: String { repositoryRoot + "/.venv/bin/python" }
    static var hasPython: Bool { access(python, X_OK) == 0 }
    static var hasNode: Bool { access("/usr/bin/node", X_OK) == 0 && access("/usr/share/nodejs/ws/index.js", R_OK) == 0 }

    init(_ arguments: [String], environment extra: [String] = []) throws {
        var toChild: [Int32] = [0, 0]
        var fromChild: [Int32] = [0, 0]
        guard pipe(&toChild) == 0, pipe(&fromChild) == 0 else { throw NetworkError.lastSystemError("pipe") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_adddup2(&actions, toChild[0], 0)
        posix_spawn_file_actions_adddup2(&actions, fromChild[1], 1)
        for fd in toChild + fromChild { posix_spawn_file_actions_addclose(&actions, fd) }
        var environment: [String] = []
        var index = 0
        while let entry = environ[index] {
            environment.append(String(cString: entry))
            index += 1
        }
        environment += extra
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        var envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup($0) } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
            posix_spawn_file_actions_destroy(&actions)
        }
        var child: pid_t = 0
        let result = posix_spawnp(&child, arguments[0], &actions, nil, &argv, &envp)
        close(toChild[0])
        close(fromChild[1])
        guard result == 0 else {
            close(toChild[1])
            close(fromChild[0])
            throw NetworkError(.system(errno: result), "spawn \(arguments[0])")
        }
        pid = child
        stdinFD = toChild[1]
        stdoutFD = fromChild[0]
    }

    deinit {
        finish(timeoutMilliseconds: 0)
        close(stdoutFD)
    }

    /// The next line of the child's stdout, or nil after `timeoutMilliseconds` or at its end.
    func readLine(timeoutMilliseconds: Int) -> String? {
        let deadline = nowMilliseconds() + timeoutMilliseconds
        while true {
            if let newline = buffered.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffered[..<newline], as: UTF8.self)
                buffered.removeSubrange(...newline)
                return line
            }
            let remaining = deadline - nowMilliseconds()
            guard remaining > 0 else { return nil }
            var descriptor = pollfd(fd: stdoutFD, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, Int32(remaining)) > 0 else { return nil }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let count = read(stdoutFD, &chunk, chunk.count)
            guard count > 0 else { return nil }
            buffered += chunk[..<count]
        }
    }

    /// Whether the child has exited (non-blocking); records its exit status.
    func hasExited() -> Bool {
        if exitStatus != nil { return true }
        var status: Int32 = 0
        if waitpid(pid, &status, WNOHANG) == pid {
            exitStatus = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
            return true
        }
        return false
    }

    /// Closes the child's stdin, waits up to `timeoutMilliseconds` for it to exit, then kills it.
    @discardableResult
    func finish(timeoutMilliseconds: Int = 5000) -> Int32? {
        if stdinFD >= 0 {
            close(stdinFD)
            stdinFD = -1
        }
        let deadline = nowMilliseconds() + timeoutMilliseconds
        while !hasExited() && nowMilliseconds() < deadline { usleep(10_000) }
        if !hasExited() {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
            exitStatus = -1
        }
        return exitStatus
    }
}
