// Tests of the FFmpeg-based decoder on videos synthesised at test time with Debian's `ffmpeg` CLI
// (skipped when it is not on PATH or lacks libx264). Each video is made once, on first use, and
// kept beside the test binary (see MediaTest::media). The CLI also serves as the reference for
// pixels (same decoder, same swscale) and for rotation (its autorotation).
#include "avgzsl/media/video_decoder.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <complex>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace avgzsl::media {
namespace {
namespace fs = std::filesystem;

constexpr double kPi = 3.14159265358979323846;
// ffmpeg's `sine` source writes 16-bit samples of amplitude 4095 (1/8 of full scale).
constexpr double kSineAmplitude = 4095.0 / 32768.0;

// The flags the decoder gives swscale, for the CLI's reference conversions.
const char* const kSwsFlags = "-sws_flags bicubic+accurate_rnd+full_chroma_int";

// FNV-1a, as 16 hex digits: stable across runs and builds, unlike std::hash.
std::string hex_hash(const std::string& text) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ull;
  char out[17];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(h));
  return out;
}

std::string quoted(const fs::path& p) { return "'" + p.string() + "'"; }

bool run(const std::string& command) { return std::system((command + " > /dev/null 2>&1").c_str()) == 0; }

// The executable `name` found along $PATH, or an empty path.
fs::path find_on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::istringstream folders(path ? path : "");
  for (std::string folder; std::getline(folders, folder, ':');) {
    const fs::path candidate = fs::path(folder.empty() ? "." : folder) / name;
    if (::access(candidate.c_str(), X_OK) == 0 && fs::is_regular_file(candidate)) return candidate;
  }
  return {};
}

// The standard output of `command`, trailing whitespace removed.
std::string capture(const std::string& command) {
  std::string out;
  if (FILE* pipe = ::popen((command + " 2>/dev/null").c_str(), "r")) {
    char buffer[256];
    while (size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) out.append(buffer, n);
    ::pclose(pipe);
  }
  while (!out.empty() && std::isspace(static_cast<unsigned char>(out.back()))) out.pop_back();
  return out;
}

bool run_ffmpeg(const std::string& args) {
  return run("ffmpeg -nostdin -y -hide_banner -loglevel error " + args);
}

std::vector<uint8_t> read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const fs::path& p, const std::vector<uint8_t>& bytes) {
  std::ofstream out(p, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

// BT.601 limited-range luma back from a gray RGB pixel (R = G = B = (Y - 16) * 255 / 219).
double luma_of_gray(const uint8_t* rgb) { return rgb[1] * 219.0 / 255.0 + 16.0; }

int max_abs_difference(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  int worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(int(a[i]) - int(b[i])));
  return worst;
}

// |DFT| at `frequency`, normalised so that a sine of amplitude A gives A.
double tone_amplitude(const std::vector<float>& x, double rate, double frequency, size_t begin, size_t count) {
  std::complex<double> sum = 0;
  for (size_t n = 0; n < count; ++n) {
    sum += double(x[begin + n]) * std::polar(1.0, -2 * kPi * frequency * double(n) / rate);
  }
  return 2.0 * std::abs(sum) / double(count);
}

class MediaTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    set_ffmpeg_log_level(FfmpegLogLevel::kQuiet);
    char pattern[] = "/tmp/avgzsl_media_test_XXXXXX";
    if (::mkdtemp(pattern)) dir_ = pattern;
    std::error_code ec;
    cache_ = fs::read_symlink("/proc/self/exe", ec).parent_path() / "media_test_videos";
    if (ec || (!fs::create_directories(cache_, ec) && !fs::is_directory(cache_))) cache_ = dir_;
    // `ffmpeg -version` names the version and the enabled libraries. Starting ffmpeg takes a
    // noticeable part of a second, so its answer is kept, keyed on the executable's size and time.
    const fs::path ffmpeg = find_on_path("ffmpeg");
    if (ffmpeg.empty()) return;
    const auto stamp = fs::last_write_time(ffmpeg, ec).time_since_epoch().count();
    const std::string identity =
        ffmpeg.string() + ' ' + std::to_string(fs::file_size(ffmpeg, ec)) + ' ' + std::to_string(stamp);
    const fs::path answer = cache_ / ("ffmpeg-version-" + hex_hash(identity));
    if (fs::exists(answer)) {
      const std::vector<uint8_t> bytes = read_bytes(answer);
      ffmpeg_version_.assign(bytes.begin(), bytes.end());
    } else {
      ffmpeg_version_ = capture("ffmpeg -version");
      const fs::path temporary = dir_ / "ffmpeg-version";
      write_bytes(temporary, {ffmpeg_version_.begin(), ffmpeg_version_.end()});
      fs::rename(temporary, answer, ec);
      if (ec) fs::copy_file(temporary, answer, fs::copy_options::overwrite_existing, ec);
    }
    have_ffmpeg_ = ffmpeg_version_.rfind("ffmpeg version", 0) == 0;
    have_x264_ = ffmpeg_version_.find("--enable-libx264") != std::string::npos;
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }
  void SetUp() override {
    if (!have_ffmpeg_) GTEST_SKIP() << "the ffmpeg CLI is not on PATH";
    if (!have_x264_) GTEST_SKIP() << "the ffmpeg CLI has no libx264 encoder";
    ASSERT_FALSE(dir_.empty()) << "cannot create a temporary folder";
  }

  static std::string h264() { return "-c:v libx264 -preset veryfast -bf 2"; }

  struct Recipe {
    std::string key;                            // everything the file's bytes depend on
    std::function<bool(const fs::path&)> make;  // writes the file at the given path
  };

  static Recipe ffmpeg_recipe(const std::string& args) {
    return {args, [args](const fs::path& out) { return run_ffmpeg(args + " " + quoted(out)); }};
  }

  // Made from the bytes of another test file.
  static Recipe bytes_recipe(const std::string& what, const std::string& source,
                             std::function<void(std::vector<uint8_t>&)> edit) {
    const fs::path from = media(source);
    return {what + " of " + from.string(), [from, edit](const fs::path& out) {
              std::vector<uint8_t> bytes = read_bytes(from);
              edit(bytes);
              write_bytes(out, bytes);
              return true;
            }};
  }

  static Recipe recipe(const std::string& name) {
    if (name == "tone.mp4") {
      // 10 s, 25 fps, a keyframe every second (no scene-cut keyframes), B-frames; 440 Hz in both
      // channels, AAC.
      return ffmpeg_recipe("-f lavfi -i testsrc2=size=160x120:rate=25:duration=10 "
                           "-f lavfi -i sine=frequency=440:sample_rate=44100:duration=10 "
                           "-af 'pan=stereo|c0=c0|c1=c0' " + h264() + " -g 25 -keyint_min 25 -sc_threshold 0 "
                           "-pix_fmt yuv420p -c:a aac -b:a 128k");
    }
    if (name == "tone_faststart.mp4") {
      return ffmpeg_recipe("-i " + quoted(media("tone.mp4")) + " -c copy -movflags +faststart");
    }
    if (name == "tone.ts") {
      // MPEG-TS: no index, seeks search by timestamp; the stream starts at 1.48 s.
      return ffmpeg_recipe("-i " + quoted(media("tone.mp4")) + " -c copy -f mpegts");
    }
    if (name == "tone.h264") {
      // A raw elementary stream: no container, no duration, timestamps only from the parser.
      return ffmpeg_recipe("-i " + quoted(media("tone.mp4")) + " -an -c:v copy -bsf:v h264_mp4toannexb -f h264");
    }
    if (name == "ramp.mp4") {
      // 8 s at 5 fps of flat gray frames whose luma encodes the frame index: Y = 16 + 5 n,
      // lossless, a keyframe every 2 s.
      return ffmpeg_recipe("-f lavfi -i \"color=c=black:s=64x48:r=5:d=8,format=yuv420p,"
                           "geq=lum='16+5*N':cb=128:cr=128\" -c:v libx264 -qp 0 -g 10");
    }
    if (name == "vfr.mp4") {
      // 4 s at 5 fps (Y = 40), then 6 s at 25 fps (Y = 60 + n): frame indices and time disagree.
      return ffmpeg_recipe("-f lavfi -i \"color=c=black:s=64x48:r=5:d=4,format=yuv420p,geq=lum=40:cb=128:cr=128\" "
                           "-f lavfi -i \"color=c=black:s=64x48:r=25:d=6,format=yuv420p,geq=lum='60+N':cb=128:cr=128\" "
                           "-filter_complex '[0:v][1:v]concat=n=2:v=1:a=0' -fps_mode vfr -c:v libx264 -qp 0");
    }
    if (name == "noaudio.mp4") {
      return ffmpeg_recipe("-f lavfi -i testsrc2=size=64x48:rate=10:duration=2 " + h264() + " -an");
    }
    if (name == "odd.webm") {
      return ffmpeg_recipe("-f lavfi -i testsrc=size=100x210:rate=10:duration=1 -vf crop=97:203 -pix_fmt yuv420p "
                           "-c:v libvpx-vp9 -deadline realtime");
    }
    if (name == "odd444.mp4") {
      return ffmpeg_recipe("-f lavfi -i testsrc=size=100x210:rate=10:duration=1 -vf crop=97:203 -pix_fmt yuv444p "
                           "-c:v libx264");
    }
    if (name == "quadrant.mp4") {
      // Top-left quadrant red, the rest black: where the red lands shows the rotation.
      return ffmpeg_recipe("-f lavfi -i \"color=c=black:s=64x48:r=10:d=1,drawbox=x=0:y=0:w=32:h=24:color=red:t=fill\" "
                           "-pix_fmt yuv420p " + h264());
    }
    if (name.rfind("rotate", 0) == 0) {   // rotate90.mp4 and the like
      const std::string degrees = name.substr(6, name.size() - 6 - 4);
      return ffmpeg_recipe("-i " + quoted(media("quadrant.mp4")) + " -c copy -metadata:s:v:0 rotate=" + degrees);
    }
    if (name == "tone_pcm.mkv") {
      // 3 s of 440 Hz in both channels, 16-bit PCM: lossless, for sample-exact checks.
      return ffmpeg_recipe("-f lavfi -i testsrc2=size=32x32:rate=10:duration=3 "
                           "-f lavfi -i sine=frequency=440:sample_rate=44100:duration=3 "
                           "-af 'pan=stereo|c0=c0|c1=c0' " + h264() + " -c:a pcm_s16le");
    }
    if (name == "two_tones.mkv") {
      // Left 440 Hz, right 1000 Hz.
      return ffmpeg_recipe("-f lavfi -i testsrc2=size=32x32:rate=10:duration=2 "
                           "-filter_complex 'sine=frequency=440:sample_rate=44100:duration=2[l];"
                           "sine=frequency=1000:sample_rate=44100:duration=2[r];"
                           "[l][r]join=inputs=2:channel_layout=stereo[a]' -map 0:v -map '[a]' " + h264() +
                           " -c:a pcm_s16le");
    }
    if (name == "audio_only.wav") return ffmpeg_recipe("-f lavfi -i sine=frequency=440:sample_rate=44100:duration=1");
    if (name == "text.mp4") {
      return {"text", [](const fs::path& out) {
                std::ofstream(out) << "This is a text file that pretends to be a video.\n";
                return true;
              }};
    }
    if (name == "empty.mp4") {
      return {"empty", [](const fs::path& out) { return bool(std::ofstream(out)); }};
    }
    if (name == "truncated.mp4" || name == "truncated_faststart.mp4") {
      // The first half of the bytes: with the index (moov) at the end nothing is readable; with it
      // first the file opens and its second half is missing.
      return bytes_recipe("first half", name == "truncated.mp4" ? "tone.mp4" : "tone_faststart.mp4",
                          [](std::vector<uint8_t>& bytes) { bytes.resize(bytes.size() / 2); });
    }
    if (name == "red_blue.mp4" || name == "red_blue.avi" || name == "red_blue.mkv") {
      // 2 s red then 2 s blue, 10 fps, a 440 Hz tone: the middle frame is blue. MPEG-4 part 2 in
      // AVI as UCF-101 ships it (xvid), with the index first in MP4, VP8/Vorbis-free H.264 in MKV.
      const std::string ext = name.substr(name.size() - 3);
      const std::string codecs = ext == "mkv" ? h264() + " -c:a aac" : "-c:v mpeg4 -q:v 5 -c:a " + std::string(ext == "avi" ? "mp3" : "aac");
      return ffmpeg_recipe("-f lavfi -i color=red:s=64x48:r=10:d=2 -f lavfi -i color=blue:s=64x48:r=10:d=2 "
                           "-f lavfi -i sine=frequency=440:sample_rate=44100:duration=4 "
                           "-filter_complex '[0][1]concat=n=2:v=1:a=0[v]' -map '[v]' -map 2:a -g 5 " + codecs +
                           (ext == "mp4" ? " -movflags +faststart" : ""));
    }
    if (name == "tone.mka") {
      return ffmpeg_recipe("-f lavfi -i sine=frequency=440:sample_rate=44100:duration=6 -c:a pcm_s16le");
    }
    if (name.rfind("cut", 0) == 0) {   // cut60-red_blue.avi: the first 60% of the bytes
      const size_t dash = name.find('-');
      const int percent = std::stoi(name.substr(3, dash - 3));
      return bytes_recipe("first " + std::to_string(percent) + "%", name.substr(dash + 1),
                          [percent](std::vector<uint8_t>& bytes) { bytes.resize(bytes.size() * percent / 100); });
    }
    if (name == "corrupt.mp4") {
      // Garbage over the middle fifth of a faststart file: both streams lose packets.
      return bytes_recipe("garbage in the middle fifth", "tone_faststart.mp4", [](std::vector<uint8_t>& bytes) {
        uint32_t state = 12345;
        for (size_t i = bytes.size() * 2 / 5; i < bytes.size() * 3 / 5; ++i) {
          state = state * 1664525u + 1013904223u;
          bytes[i] = uint8_t(state >> 24);
        }
      });
    }
    ADD_FAILURE() << "no recipe for " << name;
    return {"none", [](const fs::path&) { return false; }};
  }

  // The named test file, made on first use. Files are kept beside the test binary under a name
  // that hashes their recipe and the ffmpeg version: ctest runs every test in a process of its
  // own, and each video is then made once, not once per test. Made under a temporary name and
  // renamed, so that parallel test processes never see half a file.
  static fs::path media(const std::string& name) {
    const Recipe r = recipe(name);
    const fs::path out = cache_ / (hex_hash(ffmpeg_version_ + '\n' + r.key) + "-" + name);
    if (fs::exists(out)) return out;
    const fs::path temporary = cache_ / ("partial-" + std::to_string(::getpid()) + "-" + name);
    const bool ok = r.make(temporary) && fs::exists(temporary);
    std::error_code ec;
    if (ok) fs::rename(temporary, out, ec);
    fs::remove(temporary, ec);
    EXPECT_TRUE(ok && fs::exists(out)) << "could not make the test file " << name;
    return out;
  }

  // The CLI's RGB24 rendering of the first frame that `filters` lets through (autorotated).
  static std::vector<uint8_t> reference_rgb(const fs::path& video, const std::string& filters) {
    const fs::path raw = dir_ / (video.filename().string() + ".reference.rgb");
    const bool ok = run_ffmpeg("-i " + quoted(video) + (filters.empty() ? "" : " -vf \"" + filters + "\"") +
                               " -frames:v 1 " + kSwsFlags + " -pix_fmt rgb24 -f rawvideo " + quoted(raw));
    EXPECT_TRUE(ok) << "ffmpeg could not render a reference frame of " << video;
    std::vector<uint8_t> bytes = read_bytes(raw);
    fs::remove(raw);
    return bytes;
  }

  static inline fs::path dir_;     // scratch files of this process
  static inline fs::path cache_;   // test videos, shared by runs and processes
  static inline std::string ffmpeg_version_;
  static inline bool have_ffmpeg_ = false;
  static inline bool have_x264_ = false;
};

// ---- video ---------------------------------------------------------------------------------------

TEST_F(MediaTest, DescribesTheFile) {
  VideoDecoder decoder(media("tone.mp4"));
  const MediaInfo& info = decoder.info();
  EXPECT_NEAR(info.start_time_s, 0.0, 1e-6);
  EXPECT_NEAR(info.duration_s, 10.0, 0.05);
  EXPECT_EQ(info.width, 160);
  EXPECT_EQ(info.height, 120);
  EXPECT_EQ(info.rotation_degrees, 0);
  EXPECT_NEAR(info.average_fps, 25.0, 1e-6);
  EXPECT_EQ(info.frame_count, 250);
  EXPECT_EQ(info.video_codec, "h264");
  EXPECT_TRUE(info.has_audio);
  EXPECT_EQ(info.audio_sample_rate, 44100);
  EXPECT_EQ(info.audio_channels, 2);
  EXPECT_EQ(info.audio_codec, "aac");
}

TEST_F(MediaTest, MiddleFrameAndEvenlySpacedFramesByTime) {
  VideoDecoder decoder(media("tone.mp4"));
  const double period = 1.0 / 25;
  const std::vector<VideoFrame> middle = decoder.frames_evenly_spaced(1);
  ASSERT_EQ(middle.size(), 1u);
  // The frame on screen at 5.0 s is the one shown at 5.0 s (frame 125).
  EXPECT_NEAR(middle[0].timestamp_s, 5.0, 1e-6);
  EXPECT_EQ(middle[0].image.width, 160);
  EXPECT_EQ(middle[0].image.height, 120);
  EXPECT_EQ(middle[0].image.pixels.size(), 160u * 120u * 3u);

  const std::vector<VideoFrame> four = decoder.frames_evenly_spaced(4);
  ASSERT_EQ(four.size(), 4u);
  const double wanted[] = {1.25, 3.75, 6.25, 8.75};
  for (int i = 0; i < 4; ++i) {
    // The last frame at or before t: within one frame period below t.
    EXPECT_LE(four[i].timestamp_s, wanted[i] + 1e-6) << i;
    EXPECT_GT(four[i].timestamp_s, wanted[i] - period) << i;
  }
}

TEST_F(MediaTest, SeekedFrameHasTheCliPixels) {
  // A seek into a stream with B-frames must give the same picture as decoding from the start.
  VideoDecoder decoder(media("tone.mp4"));
  const VideoFrame frame = decoder.frames_evenly_spaced(1).at(0);
  const std::vector<uint8_t> reference = reference_rgb(media("tone.mp4"), "select=eq(n\\,125)");
  ASSERT_EQ(reference.size(), frame.image.pixels.size());
  EXPECT_EQ(max_abs_difference(frame.image.pixels, reference), 0);
}

TEST_F(MediaTest, SeekingDecodesOnlyTheNeededGroupOfPictures) {
  {
    VideoDecoder decoder(media("tone.mp4"));
    decoder.frames_evenly_spaced(1);
    std::cout << "[ measured ] middle frame of 250: " << decoder.stats().frames_decoded << " frames decoded, "
              << decoder.stats().packets_read << " packets read, " << decoder.stats().seeks << " seeks\n";
    EXPECT_LE(decoder.stats().frames_decoded, 30);
    EXPECT_LE(decoder.stats().packets_read, 100);
  }
  {
    VideoDecoder decoder(media("tone.mp4"));
    decoder.frames_evenly_spaced(10);
    std::cout << "[ measured ] 10 frames of 250: " << decoder.stats().frames_decoded << " frames decoded, "
              << decoder.stats().seeks << " seeks\n";
    EXPECT_LT(decoder.stats().frames_decoded, 200);
  }
}

TEST_F(MediaTest, FrameContentMatchesTheRequestedTime) {
  // Luma encodes the frame index; frame n is shown at n / 5 s.
  VideoDecoder decoder(media("ramp.mp4"));
  EXPECT_NEAR(decoder.info().duration_s, 8.0, 1e-6);
  auto frame_index = [](const VideoFrame& f) {
    return (luma_of_gray(f.image.at(f.image.width / 2, f.image.height / 2)) - 16.0) / 5.0;
  };
  const VideoFrame middle = decoder.frames_evenly_spaced(1).at(0);
  EXPECT_NEAR(middle.timestamp_s, 4.0, 1e-6);
  EXPECT_NEAR(frame_index(middle), 20.0, 0.2);

  const std::vector<VideoFrame> four = decoder.frames_evenly_spaced(4);   // t = 1, 3, 5, 7 s
  ASSERT_EQ(four.size(), 4u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_NEAR(four[i].timestamp_s, 1.0 + 2.0 * i, 1e-6) << i;
    EXPECT_NEAR(frame_index(four[i]), 5.0 + 10.0 * i, 0.2) << i;
  }

  // More frames than the video has: neighbours may repeat, every one is the right one for its t.
  const std::vector<VideoFrame> many = decoder.frames_evenly_spaced(60);
  ASSERT_EQ(many.size(), 60u);
  for (int i = 0; i < 60; ++i) {
    const double t = (i + 0.5) * 8.0 / 60;
    EXPECT_NEAR(frame_index(many[i]), std::floor(t * 5 + 1e-9), 0.2) << i;
  }
}

TEST_F(MediaTest, EveryCountAgreesWithTheFramesFfprobeLists) {
  // Sequential truth from ffprobe: the presentation times of every frame it decodes from the
  // start. Many values of n put some t_i just before a keyframe; MPEG-TS seeks search by timestamp
  // and land up to a group of pictures late there, or inside a group (measured: without the
  // decoder's retry, most of tone.ts's frames came out one second late).
  for (const char* name : {"tone.mp4", "tone.ts", "vfr.mp4", "odd.webm"}) {
    SCOPED_TRACE(name);
    const fs::path video = media(name);
    std::vector<double> shown;
    std::istringstream listed(capture("ffprobe -v error -select_streams v:0 "
                                      "-show_entries frame=best_effort_timestamp_time -of default=nw=1:nk=1 " +
                                      quoted(video)));
    for (std::string line; std::getline(listed, line);) {
      if (!line.empty() && line != "N/A") shown.push_back(std::stod(line));
    }
    ASSERT_GT(shown.size(), 5u);
    std::sort(shown.begin(), shown.end());
    VideoDecoder decoder(video);
    const double start = decoder.info().start_time_s, duration = decoder.info().duration_s;
    for (int n : {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 16, 21, 37, 64}) {
      const std::vector<VideoFrame> frames = decoder.frames_evenly_spaced(n);
      ASSERT_EQ(int(frames.size()), n);
      for (int i = 0; i < n; ++i) {
        const double t = start + (i + 0.5) * duration / n;
        const auto after = std::upper_bound(shown.begin(), shown.end(), t + 1e-7);
        const double expected = after == shown.begin() ? shown.front() : *std::prev(after);
        EXPECT_NEAR(frames[i].timestamp_s + start, expected, 1e-6) << "n=" << n << " i=" << i << " t=" << t;
      }
    }
    std::cout << "[ measured ] " << name << ", n = 1..64 (17 counts): " << decoder.stats().frames_decoded
              << " frames decoded for " << shown.size() << " in the file, " << decoder.stats().seeks << " seeks\n";
  }
}

TEST_F(MediaTest, RepeatedRequestsGiveTheSameFrames) {
  VideoDecoder decoder(media("tone.mp4"));
  const std::vector<VideoFrame> first = decoder.frames_evenly_spaced(3);
  const std::vector<VideoFrame> middle = decoder.frames_evenly_spaced(1);   // behind the position
  const std::vector<VideoFrame> again = decoder.frames_evenly_spaced(3);
  ASSERT_EQ(again.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(first[i].timestamp_s, again[i].timestamp_s);
    EXPECT_EQ(first[i].image.pixels, again[i].image.pixels);
  }
  EXPECT_EQ(middle.at(0).image.pixels, first[1].image.pixels);   // 5.0 s both times

  DecoderOptions threaded;
  threaded.threads = 2;
  VideoDecoder other(media("tone.mp4"), threaded);
  EXPECT_EQ(other.frames_evenly_spaced(3).at(2).image.pixels, first[2].image.pixels);
}

TEST_F(MediaTest, VariableFrameRateIsSampledByTime) {
  VideoDecoder decoder(media("vfr.mp4"));
  const MediaInfo& info = decoder.info();
  ASSERT_GT(info.duration_s, 9.9);
  ASSERT_LE(info.duration_s, 10.0 + 1e-6);
  EXPECT_EQ(info.frame_count, 20 + 150);
  // By time, the middle (~5 s) is in the 25 fps part; by frame index (85 of 170) it would be 6.6 s.
  auto expected_frame = [](double t) {   // (timestamp, luma) of the frame on screen at t
    if (t < 4.0) {
      const double shown = std::floor(t * 5 + 1e-9) / 5;
      return std::make_pair(shown, 40.0);
    }
    const double n = std::floor((t - 4.0) * 25 + 1e-9);
    return std::make_pair(4.0 + n / 25, 60.0 + n);
  };
  const int counts[] = {1, 4, 7};
  for (int n : counts) {
    const std::vector<VideoFrame> frames = decoder.frames_evenly_spaced(n);
    ASSERT_EQ(int(frames.size()), n);
    for (int i = 0; i < n; ++i) {
      const double t = (i + 0.5) * info.duration_s / n;
      const auto [shown, luma] = expected_frame(t);
      EXPECT_NEAR(frames[i].timestamp_s, shown, 1e-6) << "n=" << n << " i=" << i;
      EXPECT_NEAR(luma_of_gray(frames[i].image.at(10, 10)), luma, 0.6) << "n=" << n << " i=" << i;
    }
  }
}

TEST_F(MediaTest, OddSizesConvertLikeTheCli) {
  for (const char* name : {"odd.webm", "odd444.mp4"}) {
    SCOPED_TRACE(name);
    VideoDecoder decoder(media(name));
    EXPECT_EQ(decoder.info().width, 97);
    EXPECT_EQ(decoder.info().height, 203);
    const VideoFrame frame = decoder.frames_evenly_spaced(1).at(0);
    ASSERT_EQ(frame.image.width, 97);
    ASSERT_EQ(frame.image.height, 203);
    ASSERT_EQ(frame.image.pixels.size(), 97u * 203u * 3u);
    // Frame 5 of 10 (t = 0.5 s).
    const std::vector<uint8_t> reference = reference_rgb(media(name), "select=eq(n\\,5)");
    ASSERT_EQ(reference.size(), frame.image.pixels.size());
    EXPECT_EQ(max_abs_difference(frame.image.pixels, reference), 0);
  }
}

class RotationTest : public MediaTest, public ::testing::WithParamInterface<int> {};

TEST_P(RotationTest, FramesAreUprightLikeTheCliShowsThem) {
  const int tag = GetParam();   // the "rotate" metadata given to ffmpeg when making the file
  const fs::path video = media("rotate" + std::to_string(tag) + ".mp4");
  // The display matrix as ffprobe reads it: counter-clockwise degrees. FFmpeg 5.1's muxer turns
  // the tag 90 into a matrix of +90, i.e. counter-clockwise (so the clockwise turn is 270), and its
  // CLI shows such a file turned counter-clockwise; the test follows the matrix, whatever another
  // muxer version makes of the tag.
  const std::string probed = capture("ffprobe -v error -select_streams v:0 -show_entries stream_side_data=rotation "
                                     "-of default=nw=1:nk=1 " + quoted(video));
  ASSERT_FALSE(probed.empty()) << "the file carries no display matrix";
  const int counter_clockwise = std::stoi(probed);
  ASSERT_EQ(std::abs(counter_clockwise) % 90, 0);
  VideoDecoder decoder(video);
  const MediaInfo& info = decoder.info();
  const int clockwise = ((-counter_clockwise) % 360 + 360) % 360;
  EXPECT_EQ(info.rotation_degrees, clockwise);
  const bool swapped = clockwise % 180 != 0;
  EXPECT_EQ(info.width, swapped ? 48 : 64);
  EXPECT_EQ(info.height, swapped ? 64 : 48);

  const VideoFrame frame = decoder.frames_evenly_spaced(1).at(0);
  const RgbImage& image = frame.image;
  ASSERT_EQ(image.width, info.width);
  ASSERT_EQ(image.height, info.height);
  // Where the source's red top-left quadrant goes when turned clockwise.
  const int w = image.width, h = image.height;
  auto red = [&](int x, int y) { return image.at(x, y)[0] > 150 && image.at(x, y)[1] < 100; };
  const bool left = clockwise == 0 || clockwise == 270;
  const bool top = clockwise == 0 || clockwise == 90;
  const int rx = left ? w / 4 : 3 * w / 4, ry = top ? h / 4 : 3 * h / 4;
  EXPECT_TRUE(red(rx, ry)) << "red quadrant expected around (" << rx << ", " << ry << ")";
  EXPECT_FALSE(red(w - 1 - rx, ry));
  EXPECT_FALSE(red(rx, h - 1 - ry));
  EXPECT_FALSE(red(w - 1 - rx, h - 1 - ry));

  // The CLI turns the YUV planes before converting, so its chroma is interpolated along the other
  // axis: off by one level at most (measured).
  const std::vector<uint8_t> reference = reference_rgb(video, "select=eq(n\\,5)");
  ASSERT_EQ(reference.size(), image.pixels.size());
  EXPECT_LE(max_abs_difference(image.pixels, reference), 1);
}

INSTANTIATE_TEST_SUITE_P(Media, RotationTest, ::testing::Values(90, 180, 270));

TEST_F(MediaTest, UnknownDurationIsCountedFromThePackets) {
  VideoDecoder decoder(media("tone.h264"));
  const MediaInfo& info = decoder.info();
  EXPECT_NEAR(info.duration_s, 10.0, 0.05);
  EXPECT_EQ(info.frame_count, 250);
  EXPECT_FALSE(info.has_audio);
  const VideoFrame middle = decoder.frames_evenly_spaced(1).at(0);
  EXPECT_NEAR(middle.timestamp_s, 5.0, 0.04 + 1e-6);
  const std::vector<uint8_t> reference = reference_rgb(media("tone.mp4"), "select=eq(n\\,125)");
  ASSERT_EQ(reference.size(), middle.image.pixels.size());
  EXPECT_EQ(max_abs_difference(middle.image.pixels, reference), 0);
}

// ---- audio ---------------------------------------------------------------------------------------

TEST_F(MediaTest, NoAudioStreamIsReportedNotAnError) {
  VideoDecoder decoder(media("noaudio.mp4"));
  EXPECT_FALSE(decoder.info().has_audio);
  EXPECT_EQ(decoder.info().audio_sample_rate, 0);
  EXPECT_FALSE(decoder.audio_mono(16000).has_value());
  EXPECT_EQ(decoder.frames_evenly_spaced(2).size(), 2u);
}

TEST_F(MediaTest, ToneResampledToMonoMatchesTheAnalyticSine) {
  // Lossless 16-bit PCM of ffmpeg's sine, the same in both channels: after the channel mean and
  // resampling it must still be A sin(2 pi 440 t), starting at phase 0 with no delay.
  VideoDecoder decoder(media("tone_pcm.mkv"));
  for (int rate : {32000, 48000}) {
    SCOPED_TRACE(rate);
    const std::optional<std::vector<float>> audio = decoder.audio_mono(rate);
    ASSERT_TRUE(audio.has_value());
    const std::vector<float>& x = *audio;
    EXPECT_NEAR(double(x.size()), 3.0 * rate, 2.0);   // the resampler is flushed: nothing lost

    double interior = 0, edges = 0;
    const size_t margin = size_t(rate) / 100;   // 10 ms at each end: the filter's edge effects
    for (size_t n = 0; n < x.size(); ++n) {
      const double error = std::abs(x[n] - kSineAmplitude * std::sin(2 * kPi * 440 * double(n) / rate));
      double& worst = n < margin || n + margin >= x.size() ? edges : interior;
      worst = std::max(worst, error);
    }
    std::cout << "[ measured ] " << rate << " Hz: max |error| " << interior << " inside, " << edges
              << " within 10 ms of the ends (amplitude " << kSineAmplitude << "); " << x.size() << " samples\n";
    // Measured: 5.1e-5 (32 kHz) and 5.4e-5 (48 kHz) inside, of which 4e-5 is the source's own
    // error (16-bit samples from a 32768-entry table); 1.3e-3 and 2.8e-4 near the ends, where the
    // tone starts and stops abruptly and the resampling filter rings.
    EXPECT_LT(interior, 2e-4);
    EXPECT_LT(edges, 5e-3);

    const size_t count = size_t(rate);   // one second from the middle
    const size_t begin = x.size() / 2 - count / 2;
    EXPECT_NEAR(tone_amplitude(x, rate, 440, begin, count), kSineAmplitude, 1e-4);
    EXPECT_LT(tone_amplitude(x, rate, 430, begin, count), 1e-3);
    EXPECT_LT(tone_amplitude(x, rate, 450, begin, count), 1e-3);
  }
}

TEST_F(MediaTest, MonoIsTheMeanOfTheChannels) {
  // Left 440 Hz, right 1000 Hz, both of amplitude A: the mean has A/2 of each. (swresample's
  // default matrix would give A/sqrt(2) of each.)
  const std::optional<std::vector<float>> audio = decode_audio_mono(media("two_tones.mkv"), 16000);
  ASSERT_TRUE(audio.has_value());
  ASSERT_NEAR(double(audio->size()), 2.0 * 16000, 2.0);
  EXPECT_NEAR(tone_amplitude(*audio, 16000, 440, 8000, 16000), kSineAmplitude / 2, 1e-4);
  EXPECT_NEAR(tone_amplitude(*audio, 16000, 1000, 8000, 16000), kSineAmplitude / 2, 1e-4);
}

TEST_F(MediaTest, SwresampleDefaultDownmixIsNotTheMean) {
  // Documents why the decoder sets its own matrix: `ffmpeg -ac 1` (swresample's default) on a tone
  // present in both channels gives 1/sqrt(2) + 1/sqrt(2) = 1.41 times the tone.
  const fs::path raw = dir_ / "default_downmix.f32";
  ASSERT_TRUE(run_ffmpeg("-i " + quoted(media("tone_pcm.mkv")) + " -vn -ac 1 -f f32le " + quoted(raw)));
  const std::vector<uint8_t> bytes = read_bytes(raw);
  std::vector<float> x(bytes.size() / 4);
  std::memcpy(x.data(), bytes.data(), x.size() * 4);
  ASSERT_GT(x.size(), 44100u);
  EXPECT_NEAR(tone_amplitude(x, 44100, 440, 0, 44100), kSineAmplitude * std::sqrt(2.0), 1e-3);
}

TEST_F(MediaTest, AacToneHasTheRightLengthLevelAndPitch) {
  VideoDecoder decoder(media("tone.mp4"));
  const std::optional<std::vector<float>> audio = decoder.audio_mono(48000);
  ASSERT_TRUE(audio.has_value());
  const std::vector<float>& x = *audio;
  // AAC codes 1024-sample frames; the encoder's priming is trimmed, its padding may not be.
  std::cout << "[ measured ] AAC, 10 s at 48 kHz: " << x.size() << " samples\n";
  EXPECT_NEAR(double(x.size()), 10.0 * 48000, 48000 * 0.05);
  EXPECT_NEAR(tone_amplitude(x, 48000, 440, 48000 * 4, 48000), kSineAmplitude, kSineAmplitude * 0.02);
  EXPECT_LT(tone_amplitude(x, 48000, 400, 48000 * 4, 48000), kSineAmplitude * 0.02);
  // Zero crossings of one second: 880 for 440 Hz.
  int crossings = 0;
  for (size_t n = 48000 * 4 + 1; n <= 48000 * 5; ++n) crossings += (x[n - 1] < 0) != (x[n] < 0);
  EXPECT_NEAR(crossings, 880, 2);
  // Audio decoding did not move the video: the middle frame is still found without a rewind.
  EXPECT_NEAR(decoder.frames_evenly_spaced(1).at(0).timestamp_s, 5.0, 1e-6);
}

TEST_F(MediaTest, AudioOnlyFileHasNoVideoStream) {
  try {
    VideoDecoder decoder(media("audio_only.wav"));
    FAIL() << "expected MediaError";
  } catch (const MediaError& e) {
    EXPECT_EQ(std::string(e.what()), media("audio_only.wav").string() + ": no video stream");
  }
  const std::optional<std::vector<float>> audio = decode_audio_mono(media("audio_only.wav"), 22050);
  ASSERT_TRUE(audio.has_value());
  EXPECT_NEAR(double(audio->size()), 22050, 2);
}

// ---- errors --------------------------------------------------------------------------------------

void expect_media_error(const fs::path& path, const std::string& problem) {
  try {
    VideoDecoder decoder(path);
    ADD_FAILURE() << path << ": expected MediaError";
  } catch (const MediaError& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.rfind(path.string() + ": ", 0), 0u) << message;
    EXPECT_NE(message.find(problem), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

TEST_F(MediaTest, UnreadableFilesThrowMediaError) {
  expect_media_error(dir_ / "does_not_exist.mp4", "no such file");
  expect_media_error(media("empty.mp4"), "empty file");
  expect_media_error(media("text.mp4"), "");
  expect_media_error(media("truncated.mp4"), "not a readable media file");
  expect_media_error(dir_, "is a directory");
  EXPECT_THROW(decode_audio_mono(dir_ / "does_not_exist.mp4", 16000), MediaError);
}

TEST_F(MediaTest, InvalidArgumentsAreRejected) {
  VideoDecoder decoder(media("noaudio.mp4"));
  EXPECT_THROW(decoder.frames_evenly_spaced(0), std::invalid_argument);
  EXPECT_THROW(decoder.audio_mono(0), std::invalid_argument);
}

// Damaged files must give frames or MediaError: never a crash, never a hang.
void decode_everything_tolerantly(const fs::path& path, int frames) {
  try {
    VideoDecoder decoder(path);
    try {
      const std::vector<VideoFrame> got = decoder.frames_evenly_spaced(frames);
      EXPECT_EQ(int(got.size()), frames);
      for (const VideoFrame& f : got) EXPECT_EQ(f.image.pixels.size(), size_t(f.image.width) * f.image.height * 3);
    } catch (const MediaError&) {
    }
    try {
      decoder.audio_mono(16000);
    } catch (const MediaError&) {
    }
  } catch (const MediaError&) {
  }
}

// A file whose container claims more than it holds is not a valid sample: every way of reading
// it ends in MediaError "truncated: ...", never in the last frame before the cut (a red frame of a
// red-then-blue video instead of the blue middle one) or the audio up to the cut.
std::string first_error_reading(const fs::path& path, int frames, bool audio) {
  try {
    VideoDecoder decoder(path);
    decoder.frames_evenly_spaced(frames);
    if (audio) decoder.audio_mono(16000);
  } catch (const MediaError& e) {
    return e.what();
  }
  return "";
}

TEST_F(MediaTest, TruncatedFilesAreRefusedAsTruncated) {
  for (const std::string name : {"red_blue.mp4", "red_blue.avi", "red_blue.mkv"}) {
    VideoDecoder whole(media(name));
    const std::vector<VideoFrame> quarters = whole.frames_evenly_spaced(4);
    EXPECT_GT(quarters[1].image.at(32, 24)[0], 200) << name << ": red before 2 s";
    EXPECT_GT(quarters[2].image.at(32, 24)[2], 200) << name << ": blue after";
    EXPECT_NO_THROW(whole.audio_mono(16000)) << name;
    for (const int percent : {30, 60, 90}) {
      const fs::path cut = media("cut" + std::to_string(percent) + "-" + name);
      // Even the middle frame alone, without audio: the container's records give the cut away,
      // except where the cut takes less video than the slack of two frames (the last 10% of a
      // Matroska file: its index, and one frame); the audio then shows it.
      for (const bool audio : {false, true}) {
        if (!audio && percent == 90 && name == "red_blue.mkv") continue;
        const std::string message = first_error_reading(cut, 1, audio);
        EXPECT_EQ(message.rfind(cut.string() + ": truncated: ", 0), 0u) << name << " cut at " << percent << "%: " << message;
        EXPECT_EQ(message.find('\n'), std::string::npos);
      }
    }
  }
  EXPECT_NE(first_error_reading(media("truncated_faststart.mp4"), 8, true).find(": truncated: the container's index needs"),
            std::string::npos);
}

TEST_F(MediaTest, AnAudioTrackThatHoldsLessThanDeclaredIsTruncated) {
  const fs::path whole = media("tone.mka");
  ASSERT_NEAR(double(decode_audio_mono(whole, 16000)->size()), 6.0 * 16000, 2);
  const fs::path cut = media("cut60-tone.mka");
  try {
    decode_audio_mono(cut, 16000);
    ADD_FAILURE() << "a cut audio track was accepted";
  } catch (const MediaError& e) {
    EXPECT_NE(std::string(e.what()).find(cut.string() + ": truncated: the audio track holds 3.5"), std::string::npos) << e.what();
  }
}

TEST_F(MediaTest, CentredAudioWindowIsTheCropOfTheWholeTrack) {
  // CLAP keeps the samples from length/2 - window/2 on; decoding only that window must give the
  // same samples as cropping the whole track, for windows longer and shorter than the track.
  for (const std::string name : {"tone.mp4", "tone_pcm.mkv", "red_blue.avi"}) {
    const std::vector<float> track = *decode_audio_mono(media(name), 16000);
    for (const int64_t window : {int64_t(16000), int64_t(3 * 16000 + 7), int64_t(track.size()), int64_t(track.size() + 100)}) {
      const std::vector<float> got = *decode_audio_mono(media(name), 16000, 1, window);
      if (window >= int64_t(track.size())) {
        EXPECT_EQ(got, track) << name << ": a window longer than the track gives the track";
        continue;
      }
      const int64_t start = int64_t(track.size()) / 2 - window / 2;
      EXPECT_EQ(got, std::vector<float>(track.begin() + start, track.begin() + start + window)) << name << " window " << window;
    }
  }
  EXPECT_THROW(decode_audio_mono(media("tone.mp4"), 16000, 1, -1), std::invalid_argument);
}

TEST_F(MediaTest, CorruptedMiddleNeitherCrashesNorHangs) {
  decode_everything_tolerantly(media("corrupt.mp4"), 1);
  decode_everything_tolerantly(media("corrupt.mp4"), 9);
}

}  // namespace
}  // namespace avgzsl::media
