import Glibc
import Testing
import SwiftWSCore
@testable import SwiftWSEndpoints
@testable import SwiftWSTransport
import SwiftWSTestSupport

/// One meaning per outcome, the same in every face: a refused send throws the core's
/// `SessionError` (closed, or invalid); a valid one returns sent, buffered or dropped, and
/// `.dropped` means only that the buffered-amount limit applied.
@Suite("Send outcomes: refusals throw the session's error, dropped means the limit", .serialized)
struct SendOutcomeTests {
    @Test func invalidMessagesThrowTheSessionsErrorAndTheConnectionStaysOpen() throws {
        let loop = try EventLoop()
        let server = try WebSocketServer(loop: loop, host: "127.0.0.1", port: 0)
        var outcomes: [String] = []
        server.handlers.onOpen = { connection in
            func attempt(_ name: String, _ body: () throws(SessionError) -> SendResult) {
                do throws(SessionError) {
                    outcomes.append("\(name): \(try body())")
                } catch {
                    outcomes.append("\(name): \(error)")
                }
            }
            let invalid: [UInt8] = [0xC3, 0x28]
            attempt("bad text") { () throws(SessionError) in
                try invalid.withUnsafeBytes { bytes in Result { () throws(SessionError) in try connection.send(.text, bytes) } }.get()
            }
            attempt("long ping") { () throws(SessionError) in try connection.ping([UInt8](repeating: 0, count: 126)) }
            attempt("pong") { () throws(SessionError) in try connection.pong([1, 2]) }
            attempt("fragment") { () throws(SessionError) in
                try [UInt8]([1]).withUnsafeBytes { bytes in
                    Result { () throws(SessionError) in try connection.sendFragment(.binary, bytes, isFinal: false) }
                }.get()
            }
            attempt("whole during fragments") { () throws(SessionError) in try connection.send(text: "x") }
            connection.close()
            attempt("after close") { () throws(SessionError) in try connection.send(text: "late") }
        }
        let record = connectRecordingClient(loop, url(server), onEvent: {})
        server.handlers.onClose = { _, _ in loop.stop() }
        #expect(runBounded(loop))
        #expect(outcomes == ["bad text: invalidUTF8", "long ping: controlPayloadTooLong", "pong: sent", "fragment: sent",
                             "whole during fragments: fragmentedMessageInProgress", "after close: closed"])
        _ = record
    }

    @Test func droppedMeansTheBufferedAmountLimitOnly() throws {
        let loop = try EventLoop()
        var options = ServerOptions()
        options.connection.maxBufferedAmount = 64 << 10
        options.connection.perMessageDeflate = .disabled  // the bytes below would compress to nothing
        let server = try WebSocketServer(loop: loop, host: "127.0.0.1", port: 0, options: options)
        var results: [String] = []
        // The client stops reading once open and asks for the flood; past the kernel's buffers
        // the output piles up on the server, until the limit drops a message.
        server.handlers.onMessage = { connection, _, _ in
            for _ in 0..<4000 {
                do throws(SessionError) {
                    let result = try connection.send(binary: [UInt8](repeating: 7, count: 16 << 10))
                    results.append("\(result)")
                    if result == .dropped { break }
                } catch {
                    results.append("\(error)")
                    break
                }
            }
            #expect(connection.isOpen)  // the .drop policy: the connection stays open
            loop.stop()
        }
        _ = connectRecordingClient(loop, url(server), onOpen: { client in
            client.pauseReading()
            _ = try? client.send(text: "go")
        })
        #expect(runBounded(loop))
        #expect(results.last == "dropped")
        #expect(results.dropLast().allSatisfy { $0 == "sent" || $0 == "buffered" })
    }
}
