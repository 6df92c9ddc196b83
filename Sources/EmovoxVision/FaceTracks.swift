import Foundation
import EmovoxCore
import EmovoxUtilities

/// One detected face in one sampled frame.
public struct FaceObservation: Codable {
    public var frame: Int
    public var time: Double
    public var box: Box
    public init(frame: Int, time: Double, box: Box) { self.frame = frame; self.time = time; self.box = box }
}

public struct FaceTrack: Codable {
    public var id: Int
    public var observations: [FaceObservation]
    public var meanArea: Double { observations.isEmpty ? 0 : Double(observations.reduce(0) { $0 + $1.box.area }) / Double(observations.count) }
}

/// Links per-frame detections into tracks by IoU and picks the speaking face.
public enum FaceTracker {
    /// Greedy linking: each detection joins the live track whose last box overlaps it most (IoU ≥ threshold,
    /// at most `maxGap` sampled frames ago); otherwise it starts a new track.
    public static func link(_ detections: [[FaceObservation]], iouThreshold: Double = 0.3, maxGap: Int = 2) -> [FaceTrack] {
        var tracks: [FaceTrack] = []
        for frameDets in detections {
            var taken = Set<Int>()
            for det in frameDets.sorted(by: { $0.box.area > $1.box.area }) {
                var best = -1, bestIoU = iouThreshold
                for (i, t) in tracks.enumerated() where !taken.contains(i) {
                    guard let last = t.observations.last, det.frame - last.frame <= maxGap + 1, det.frame > last.frame else { continue }
                    let iou = last.box.iou(det.box)
                    if iou >= bestIoU { best = i; bestIoU = iou }
                }
                if best >= 0 { tracks[best].observations.append(det); taken.insert(best) } else {
                    tracks.append(FaceTrack(id: tracks.count, observations: [det])); taken.insert(tracks.count - 1)
                }
            }
        }
        return tracks
    }

    /// The speaking face by default: the longest track, ties broken by the larger mean area.
    public static func speakingTrack(_ tracks: [FaceTrack]) -> FaceTrack? {
        tracks.max { ($0.observations.count, $0.meanArea) < ($1.observations.count, $1.meanArea) }
    }

    /// VoxCeleb1 face-track text: header lines, then rows `FRAME X Y W H` (pixels, tab or space separated).
    public static func readVoxCelebTrack(_ path: String) throws -> [(frame: Int, box: Box)] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw EmovoxError("cannot read the face-track file", file: path) }
        var rows: [(Int, Box)] = []
        for (n, line) in text.split(whereSeparator: \.isNewline).enumerated() {
            let f = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "," }).compactMap { Double($0) }
            guard f.count >= 5, line.first?.isNumber == true else { continue }
            guard f.prefix(5).allSatisfy({ $0.isFinite && abs($0) < 1e9 }), f[0] >= 0, f[3] > 0, f[4] > 0 else {
                throw EmovoxError("row \(n + 1): frame and box must be finite, the frame ≥ 0 and the box non-empty", file: path)
            }
            rows.append((Int(f[0]), Box(x: Int(f[1].rounded()), y: Int(f[2].rounded()), width: Int(f[3].rounded()), height: Int(f[4].rounded()))))
        }
        guard !rows.isEmpty else { throw EmovoxError("no `FRAME X Y W H` rows found", file: path) }
        return rows
    }
}
