// An async client: prints what arrives, sends each line typed on stdin, closes on end of input.
//   swift run ChatClient ws://127.0.0.1:9002/lobby
import Glibc
import SwiftWS

let url = CommandLine.arguments.dropFirst().first ?? "ws://127.0.0.1:9002/lobby"
let socket = try await AsyncWebSocket.connect(url)
print("connected to \(url)")

let reader = Task {
    do {
        for try await message in socket.messages {
            switch message {
            case .text(let text): print(text)
            case .binary(let bytes): print("<\(bytes.count) bytes>")
            }
        }
    } catch let closed as ConnectionClosed {
        print("closed: \(closed.status.code.rawValue) \(closed.status.reason)")
    }
}
while let line = readLine() {
    try await socket.send(line)
}
let status = await socket.close()
print("closed: \(status.code.rawValue) \(status.reason)")
_ = await reader.result
