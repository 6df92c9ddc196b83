import Foundation

/// Runs external tools (ffmpeg, ffprobe, rsvg-convert) as subprocesses.
public enum Subprocess {
    /// Finds an executable on PATH; nil when absent.
    public static func which(_ name: String) -> String? {
        if name.contains("/") { return FileManager.default.isExecutableFile(atPath: name) ? name : nil }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    static func process(_ tool: String, _ args: [String], forFile: String?) throws -> Process {
        guard let exe = which(tool) else {
            throw EmovoxError("`\(tool)` is not installed (apt-get install \(tool == "ffprobe" ? "ffmpeg" : tool))", file: forFile)
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        return p
    }

    /// Runs `tool args…` to completion and returns its standard output.
    /// Standard error is collected and reported on failure; `forFile` names the input in errors.
    public static func run(_ tool: String, _ args: [String], forFile: String? = nil,
                           stdin: Data? = nil) throws -> Data {
        let p = try process(tool, args, forFile: forFile)
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        let inPipe = stdin.map { _ in Pipe() }
        if let inPipe { p.standardInput = inPipe } else { p.standardInput = FileHandle.nullDevice }
        try p.run()
        if let inPipe, let stdin {
            DispatchQueue.global().async {
                inPipe.fileHandleForWriting.write(stdin)
                try? inPipe.fileHandleForWriting.close()
            }
        }
        // Drain stderr concurrently so a chatty tool cannot block on a full pipe.
        final class Box: @unchecked Sendable { var data = Data() }  // written by one reader, read after the semaphore
        let errBox = Box()
        let errDone = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            errBox.data = err.fileHandleForReading.readDataToEndOfFile()
            errDone.signal()
        }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        errDone.wait()
        if p.terminationStatus != 0 {
            let msg = String(decoding: errBox.data, as: UTF8.self)
                .split(separator: "\n").suffix(3).joined(separator: " | ")
            throw EmovoxError("\(tool) failed (exit \(p.terminationStatus)): \(msg)", file: forFile)
        }
        return data
    }

    /// Starts `tool args…` and returns the process and a handle on its standard output, for streaming
    /// readers (long audio, video frames). The caller reads until EOF, then calls `waitUntilExit()`.
    public static func stream(_ tool: String, _ args: [String], forFile: String? = nil) throws -> (Process, FileHandle) {
        let p = try process(tool, args, forFile: forFile)
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        try p.run()
        return (p, out.fileHandleForReading)
    }
}
