import ArgumentParser
import Foundation
import EmovoxCore
import EmovoxUtilities

extension BatchReport {
    /// Ends a batch command: the summary on standard error, then the documented exit status
    /// (0 every input done, 3 some skipped, 1 nothing done).
    func finish() throws {
        FileHandle.standardError.write(Data((summary + "\n").utf8))
        if exitCode != BatchReport.allDone { throw ExitCode(exitCode) }
    }
}
