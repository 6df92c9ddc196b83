import Foundation

/// Atomic file writes: a temp file in the same folder, then rename, so a crash never leaves half a file.
public enum AtomicFile {
    public static func write(_ data: Data, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent()
        let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())")
        do {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            try data.write(to: tmp)
        } catch {
            // Foundation's messages do not always name the file; ours do.
            try? FileManager.default.removeItem(at: tmp)
            throw EmovoxError("cannot write: \(error.localizedDescription)", file: path)
        }
        // POSIX rename replaces the target atomically (Foundation's replaceItemAt is unreliable on Linux).
        guard rename(tmp.path, url.path) == 0 else {
            let err = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: tmp)
            throw EmovoxError("cannot write: \(err)", file: path)
        }
    }

    public static func write(_ text: String, to path: String) throws {
        try write(Data(text.utf8), to: path)
    }
}
