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
        var linker = Linker(iouThreshold: iouThreshold, maxGap: maxGap, keepObservations: true)
        for frameDets in detections { _ = linker.push(frameDets) }
        return linker.tracks
    }

    /// `link` one sampled frame at a time, for streams too long to hold every detection: `push` says which track
    /// each detection joined. With `keepObservations` false a track keeps only its last observation (and a count).
    public struct Linker {
        public let iouThreshold: Double, maxGap: Int, keepObservations: Bool, firstId: Int
        public private(set) var tracks: [FaceTrack] = []
        /// Detections per track (all of them, even when observations are not kept).
        public private(set) var counts: [Int] = []

        /// `firstId`: the id of the first new track (ids go on from it, so a restarted linker's ids stay unique).
        public init(iouThreshold: Double = 0.3, maxGap: Int = 2, keepObservations: Bool = true, firstId: Int = 0) {
            self.iouThreshold = iouThreshold; self.maxGap = maxGap; self.keepObservations = keepObservations; self.firstId = firstId
        }

        /// The track id of each detection (`firstId` + its index in `tracks`) of one frame (frames pushed in order), in the order given.
        public mutating func push(_ frameDets: [FaceObservation]) -> [Int] {
            var taken = Set<Int>(), ids = [Int](repeating: -1, count: frameDets.count)
            for (k, det) in frameDets.enumerated().sorted(by: { $0.element.box.area > $1.element.box.area }) {
                var best = -1, bestIoU = iouThreshold
                for (i, t) in tracks.enumerated() where !taken.contains(i) {
                    guard let last = t.observations.last, det.frame - last.frame <= maxGap + 1, det.frame > last.frame else { continue }
                    let iou = last.box.iou(det.box)
                    if iou >= bestIoU { best = i; bestIoU = iou }
                }
                if best < 0 { tracks.append(FaceTrack(id: firstId + tracks.count, observations: [])); counts.append(0); best = tracks.count - 1 }
                if !keepObservations { tracks[best].observations.removeAll(keepingCapacity: true) }
                tracks[best].observations.append(det); counts[best] += 1
                taken.insert(best); ids[k] = tracks[best].id
            }
            return ids
        }
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
