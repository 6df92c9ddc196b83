import Foundation

/// Every user-facing failure names the file (or object) and says what is wrong with it.
public struct EmovoxError: Error, CustomStringConvertible, LocalizedError {
    public let file: String?
    public let message: String

    public init(_ message: String, file: String? = nil) {
        self.file = file
        self.message = message
    }

    public var description: String {
        if let file { return "\(file): \(message)" }
        return message
    }

    public var errorDescription: String? { description }
}
