#include "avgzsl/media/video_decoder.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/dict.h>
#include <libavutil/display.h>
#include <libavutil/log.h>
#include <libavutil/pixdesc.h>
#include <libswresample/swresample.h>
#include <libswscale/swscale.h>
}

#include <algorithm>
#include <cstdarg>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <mutex>
#include <new>
#include <utility>

#include "ffmpeg_handles.h"

namespace avgzsl::media {
namespace fs = std::filesystem;

namespace {

// Timestamps closer than this count as equal: a frame at exactly t_i is the frame on screen at
// t_i even when the seconds computed from two time bases differ in the last bits.
constexpr double kTimeEpsilon = 1e-7;
// A decoder holds back at most a few frames (B-frame reordering, 16 at the very most in H.264);
// this many video packets past the requested time without a frame at or before it means nothing
// useful will come out, whatever the file's defect.
constexpr int kMaxVideoPacketsPastTarget = 256;
// Without a keyframe index, decode forward rather than seek when the target is this close.
constexpr double kForwardWithoutIndexS = 2.0;
// A seek that lands on a keyframe shown after the target (its decoding time was before the
// target, its presentation time is not) is retried this much earlier.
constexpr double kSeekBackoffS = 1.0;

// The deprecated "J" formats mean "full range"; swscale wants the plain format plus the range.
AVPixelFormat dejpeg(AVPixelFormat format, bool& full_range) {
  switch (format) {
    case AV_PIX_FMT_YUVJ420P: full_range = true; return AV_PIX_FMT_YUV420P;
    case AV_PIX_FMT_YUVJ422P: full_range = true; return AV_PIX_FMT_YUV422P;
    case AV_PIX_FMT_YUVJ444P: full_range = true; return AV_PIX_FMT_YUV444P;
    case AV_PIX_FMT_YUVJ440P: full_range = true; return AV_PIX_FMT_YUV440P;
    case AV_PIX_FMT_YUVJ411P: full_range = true; return AV_PIX_FMT_YUV411P;
    default: return format;
  }
}

// Clockwise degrees (0/90/180/270) that make the decoded frames upright.
int clockwise_rotation(const AVStream* stream) {
  double clockwise = 0;
  size_t size = 0;
  const uint8_t* matrix = av_stream_get_side_data(stream, AV_PKT_DATA_DISPLAYMATRIX, &size);
  if (matrix && size >= 9 * sizeof(int32_t)) {
    // av_display_rotation_get gives the counter-clockwise angle of the display transform; the
    // ffmpeg CLI negates it the same way before choosing its transpose filter. Flips in the
    // matrix are ignored, as FFmpeg 5.1's CLI ignores them.
    const double counter_clockwise = av_display_rotation_get(reinterpret_cast<const int32_t*>(matrix));
    if (std::isfinite(counter_clockwise)) clockwise = -counter_clockwise;
  } else if (const AVDictionaryEntry* tag = av_dict_get(stream->metadata, "rotate", nullptr, 0)) {
    // The older tag (some demuxers still set it) is clockwise already.
    clockwise = std::strtod(tag->value, nullptr);
  }
  long quarter_turns = std::lround(clockwise / 90.0) % 4;
  if (quarter_turns < 0) quarter_turns += 4;
  return static_cast<int>(quarter_turns) * 90;
}

// Copies a packed RGB24 image into `out`, turned clockwise by `rotation` degrees. Hand-written:
// swscale does not rotate, and libavfilter's transpose would need a filter graph per file for
// what is a few loops.
void copy_rotated(const uint8_t* src, int src_stride, int w, int h, int rotation, RgbImage& out) {
  const bool swap = rotation == 90 || rotation == 270;
  out.width = swap ? h : w;
  out.height = swap ? w : h;
  out.pixels.resize(size_t(w) * h * 3);
  uint8_t* dst = out.pixels.data();
  const size_t row_bytes = size_t(w) * 3;
  auto in = [&](int x, int y) { return src + ptrdiff_t(y) * src_stride + ptrdiff_t(x) * 3; };
  auto put = [&](const uint8_t* p) {
    dst[0] = p[0];
    dst[1] = p[1];
    dst[2] = p[2];
    dst += 3;
  };
  switch (rotation) {
    case 90:   // the source's left column, read upwards, becomes the top row
      for (int y = 0; y < out.height; ++y)
        for (int x = 0; x < out.width; ++x) put(in(y, h - 1 - x));
      break;
    case 180:
      for (int y = 0; y < out.height; ++y)
        for (int x = 0; x < out.width; ++x) put(in(w - 1 - x, h - 1 - y));
      break;
    case 270:  // the source's right column, read downwards, becomes the top row
      for (int y = 0; y < out.height; ++y)
        for (int x = 0; x < out.width; ++x) put(in(w - 1 - y, x));
      break;
    default:
      for (int y = 0; y < h; ++y) std::memcpy(dst + y * row_bytes, in(0, y), row_bytes);
      break;
  }
}

bool valid(AVRational q) { return q.num > 0 && q.den > 0; }

}  // namespace

MediaError::MediaError(const fs::path& path, const std::string& problem)
    : std::runtime_error([&] {
        std::string message = path.string() + ": " + problem;
        std::replace(message.begin(), message.end(), '\n', ' ');
        return message;
      }()) {}


namespace {

struct LogRoute {
  std::mutex mutex;
  int level = AV_LOG_QUIET;
  FfmpegLogSink sink;
  std::string pending;   // FFmpeg may build one line from several calls
  int print_prefix = 1;
};

LogRoute& log_route() {
  static LogRoute route;
  return route;
}

void forward_ffmpeg_log(void* context, int level, const char* format, va_list args) {
  LogRoute& route = log_route();
  std::lock_guard<std::mutex> lock(route.mutex);
  if (level > route.level || !route.sink) return;
  char text[1024];
  av_log_format_line2(context, level, format, args, text, sizeof text, &route.print_prefix);
  route.pending += text;
  for (size_t end = route.pending.find('\n'); end != std::string::npos; end = route.pending.find('\n')) {
    const std::string line = route.pending.substr(0, end);
    route.pending.erase(0, end + 1);
    if (!line.empty()) route.sink(line);
  }
}

int av_level(FfmpegLogLevel level) {
  switch (level) {
    case FfmpegLogLevel::kQuiet: return AV_LOG_QUIET;
    case FfmpegLogLevel::kError: return AV_LOG_ERROR;
    case FfmpegLogLevel::kWarning: return AV_LOG_WARNING;
    case FfmpegLogLevel::kInfo: return AV_LOG_INFO;
  }
  return AV_LOG_QUIET;
}

}  // namespace

void route_ffmpeg_log(FfmpegLogLevel level, FfmpegLogSink sink) {
  LogRoute& route = log_route();
  {
    std::lock_guard<std::mutex> lock(route.mutex);
    route.level = av_level(level);
    route.sink = std::move(sink);
    route.pending.clear();
  }
  av_log_set_level(av_level(level));   // spares FFmpeg formatting lines nobody reads
  av_log_set_callback(forward_ffmpeg_log);
}

void set_ffmpeg_log_level(FfmpegLogLevel level) { av_log_set_level(av_level(level)); }

std::string why_not_a_video(const fs::path& path) {
  try {
    const FormatPtr format = open_media(path);
    const std::string demuxer = format->iformat && format->iformat->name ? format->iformat->name : "";
    if (demuxer.find("image2") != std::string::npos || demuxer.find("_pipe") != std::string::npos) {
      return "a still image (" + demuxer + "), not a video";
    }
    if (best_video_stream(format.get()) < 0) return best_audio_stream(format.get()) >= 0 ? "audio only, no video stream" : "no video stream";
    return "";
  } catch (const MediaError& e) {
    const std::string message = e.what();
    const std::string prefix = path.string() + ": ";
    return message.rfind(prefix, 0) == 0 ? message.substr(prefix.size()) : message;
  }
}

// ------------------------------------------------------------------------------------------------

struct VideoDecoder::Impl {
  fs::path path;
  DecoderOptions options;
  MediaInfo info;
  DecodeStats stats;

  FormatPtr format;
  int video_index = -1;
  int audio_index = -1;
  AVStream* stream = nullptr;
  AVRational time_base{1, 1};
  CodecPtr codec;
  PacketPtr packet;

  // Decoding state carried between requests. `candidate` is the last frame at or before the
  // latest requested time; `pending` was decoded after it and lies past that time.
  FramePtr candidate;
  FramePtr pending;
  FramePtr scratch;
  bool has_candidate = false;
  bool has_pending = false;
  double candidate_s = 0;
  double pending_s = 0;
  double last_decoded_s = std::numeric_limits<double>::quiet_NaN();
  bool positioned = false;     // decoding may go on from the current state (else seek first)
  bool input_ended = false;    // the flush packet went in: nothing follows the buffered frames
  bool awaiting_keyframe = false;   // after a seek: packets before the next keyframe are dropped
  bool reached_end_of_file = false; // the demuxer ran out of packets (not a stop short of the end)

  SwsPtr sws;
  FramePtr rgb;

  Impl(fs::path p, DecoderOptions o) : path(std::move(p)), options(o) {
    format = open_media(path);
    video_index = best_video_stream(format.get());
    if (video_index < 0) throw MediaError(path, "no video stream");
    stream = format->streams[video_index];
    time_base = stream->time_base;
    codec = open_decoder(path, stream, options.threads, "video");
    packet = make_packet();
    candidate = make_frame();
    pending = make_frame();
    scratch = make_frame();
    rgb = make_frame();
    describe();
    check_not_truncated(path, format.get());
    check_tail();
  }

  double seconds(int64_t ts) const { return double(ts) * av_q2d(time_base); }
  int64_t to_ts(double s) const { return static_cast<int64_t>(std::floor(s / av_q2d(time_base))); }

  void describe() {
    const AVCodecParameters* par = stream->codecpar;
    info.video_codec = avcodec_get_name(par->codec_id);
    info.rotation_degrees = clockwise_rotation(stream);
    const bool swap = info.rotation_degrees == 90 || info.rotation_degrees == 270;
    info.width = swap ? par->height : par->width;
    info.height = swap ? par->width : par->height;

    const double container_start =
        format->start_time != AV_NOPTS_VALUE ? double(format->start_time) / AV_TIME_BASE : 0.0;
    info.start_time_s = stream->start_time != AV_NOPTS_VALUE ? seconds(stream->start_time) : container_start;
    // Durations "estimated from the bitrate" (raw elementary streams) can be far off: count instead.
    const bool guessed = format->duration_estimation_method == AVFMT_DURATION_FROM_BITRATE;
    bool known = false;
    const double declared = declared_stream_seconds(format.get(), stream);
    if (!guessed && stream->duration != AV_NOPTS_VALUE && stream->duration > 0) {
      info.duration_s = seconds(stream->duration);
      known = true;
    } else if (!guessed && declared > 0) {
      // Matroska keeps each track's length in a tag: the video's own span, where the container's
      // duration is that of its longest track.
      info.duration_s = declared;
      known = true;
    } else if (!guessed && format->duration != AV_NOPTS_VALUE && format->duration > 0) {
      info.duration_s = double(format->duration) / AV_TIME_BASE - (info.start_time_s - container_start);
      known = info.duration_s > 0;
    }

    if (valid(stream->avg_frame_rate)) info.average_fps = av_q2d(stream->avg_frame_rate);
    else if (valid(stream->r_frame_rate)) info.average_fps = av_q2d(stream->r_frame_rate);
    if (stream->nb_frames > 0) info.frame_count = stream->nb_frames;

    if (!known) count_packets();
    if (info.frame_count <= 0) info.frame_count = std::llround(info.duration_s * info.average_fps);

    audio_index = best_audio_stream(format.get());
    if (audio_index >= 0) {
      const AVCodecParameters* audio = format->streams[audio_index]->codecpar;
      info.has_audio = true;
      info.audio_sample_rate = audio->sample_rate;
      info.audio_channels = audio->ch_layout.nb_channels;
      info.audio_codec = avcodec_get_name(audio->codec_id);
    }
  }

  // The container knows no duration (raw elementary streams): read every video packet, without
  // decoding, for the span and the frame count; demuxing is cheap next to decoding.
  void count_packets() {
    int64_t first = AV_NOPTS_VALUE, end = AV_NOPTS_VALUE, count = 0;
    int stalls = 0;
    for (;;) {
      const int r = av_read_frame(format.get(), packet.get());
      if (r == AVERROR(EAGAIN) && ++stalls < 10000) continue;
      if (r < 0) break;
      ++stats.packets_read;
      if (packet->stream_index == video_index) {
        const int64_t ts = packet->pts != AV_NOPTS_VALUE ? packet->pts : packet->dts;
        if (ts != AV_NOPTS_VALUE) {
          first = first == AV_NOPTS_VALUE ? ts : std::min(first, ts);
          const int64_t stop = ts + std::max<int64_t>(packet->duration, 0);
          end = end == AV_NOPTS_VALUE ? stop : std::max(end, stop);
        }
        ++count;
      }
      av_packet_unref(packet.get());
    }
    if (count == 0) throw MediaError(path, "the video stream has no packets");
    if (first != AV_NOPTS_VALUE) {
      if (stream->start_time == AV_NOPTS_VALUE) info.start_time_s = seconds(first);
      info.duration_s = std::max(0.0, seconds(end) - info.start_time_s);
    } else if (info.average_fps > 0) {
      info.duration_s = double(count) / info.average_fps;
    }
    info.frame_count = count;
    if (info.average_fps <= 0 && info.duration_s > 0) info.average_fps = double(count) / info.duration_s;
    rewind();
  }

  // How far short of its declared end a stream may stop: two frame periods (at least 0.1 s), as
  // a last frame is shown for its own duration.
  double end_slack_s() const {
    const double period = info.average_fps > 0 ? 1.0 / info.average_fps : 0.05;
    return std::max(2 * period, 0.1);
  }

  // Containers without a complete index (Matroska, WebM, ...) cut short still open and give the
  // frames before the cut. Their last seconds tell: a seek near the declared end, then the
  // packets to the end of the file, without decoding. Costs one seek and a few seconds of packets.
  void check_tail() {
    if (avformat_index_get_entries_count(stream) > 1) return;   // MP4, AVI: checked by their index
    if (format->duration_estimation_method != AVFMT_DURATION_FROM_STREAM || !(info.duration_s > 0)) return;
    const double end = info.start_time_s + info.duration_s;
    const double from = std::max(info.start_time_s, end - 3.0);
    if (av_seek_frame(format.get(), video_index, to_ts(from), AVSEEK_FLAG_BACKWARD) < 0) return;
    positioned = false;   // the next request seeks
    double last_end = -std::numeric_limits<double>::infinity();
    for (int packets = 0, stalls = 0; packets < 100000;) {
      const int r = av_read_frame(format.get(), packet.get());
      if (r == AVERROR(EAGAIN) && ++stalls < 10000) continue;
      if (r < 0) break;
      ++packets;
      ++stats.packets_read;
      const int64_t ts = packet->pts != AV_NOPTS_VALUE ? packet->pts : packet->dts;
      if (packet->stream_index == video_index && ts != AV_NOPTS_VALUE) {
        last_end = std::max(last_end, seconds(ts + std::max<int64_t>(packet->duration, 0)));
      }
      av_packet_unref(packet.get());
    }
    if (std::isfinite(last_end) && last_end < end - end_slack_s() - 0.01 * info.duration_s) {
      char problem[160];
      std::snprintf(problem, sizeof problem, "truncated: the video stream ends at %.2f s of the %.2f s its container declares",
                    last_end - info.start_time_s, info.duration_s);
      throw MediaError(path, problem);
    }
  }

  // ---- positioning -----------------------------------------------------------------------------

  void reset_decoder() {
    avcodec_flush_buffers(codec.get());
    has_candidate = has_pending = false;
    input_ended = false;
    awaiting_keyframe = false;
    reached_end_of_file = false;
    positioned = true;
    last_decoded_s = std::numeric_limits<double>::quiet_NaN();
  }

  // Back to the first packet, by reopening the file. A timestamp seek to the start is not enough:
  // formats without an index (MPEG-TS) land inside the first group of pictures, and its frames
  // are lost. Reopening costs a few milliseconds (1.7 ms for a small MP4) and is rare (targets
  // before the first keyframe, fallbacks). Stream indices are the same in the new context.
  void rewind() {
    ++stats.seeks;
    format = open_media(path);
    stream = format->streams[video_index];
    reset_decoder();
  }

  // To the keyframe at or before `t` (seconds).
  void seek_to(double t) {
    if (t <= info.start_time_s) return rewind();
    ++stats.seeks;
    const int64_t ts = to_ts(t);
    int r = avformat_seek_file(format.get(), video_index, std::numeric_limits<int64_t>::min(), ts, ts, 0);
    if (r < 0) r = av_seek_frame(format.get(), video_index, ts, AVSEEK_FLAG_BACKWARD);
    if (r < 0) return rewind();
    reset_decoder();
    awaiting_keyframe = true;
  }

  // Whether reaching `t` from the current state should start with a seek.
  bool should_seek(double t) const {
    if (!positioned || (!has_candidate && !has_pending)) return true;
    if (has_candidate && candidate_s > t + kTimeEpsilon) return true;   // the answer lies behind us
    if (input_ended) return false;                                      // the answer is decoded
    const double latest = has_pending ? pending_s : candidate_s;
    if (latest > t) return false;
    // Decoding on reuses what the decoder holds; a seek pays for decoding from the keyframe before
    // t. Seek only when that keyframe lies after the current position.
    const AVIndexEntry* entry = avformat_index_get_entry_from_timestamp(stream, to_ts(t), AVSEEK_FLAG_BACKWARD);
    if (entry && entry->timestamp != AV_NOPTS_VALUE) return seconds(entry->timestamp) > latest;
    return t - latest > kForwardWithoutIndexS;
  }

  // ---- decoding --------------------------------------------------------------------------------

  struct Budget {
    int64_t target_ts;
    int64_t packets = 0;
    int past_target = 0;
    int64_t latest_fed_ts = AV_NOPTS_VALUE;  // the latest timestamp <= target sent to the decoder
  };

  // Sends the next video packet to the decoder; false when the input is over (end of file, read
  // error, or nothing useful left before the target).
  bool feed_packet(Budget& budget) {
    for (;;) {
      if (++budget.packets > options.max_packets_per_frame) {
        positioned = false;
        throw MediaError(path, "gave up after reading " + std::to_string(budget.packets - 1) +
                                   " packets for one frame");
      }
      int r = av_read_frame(format.get(), packet.get());
      if (r == AVERROR(EAGAIN)) continue;
      if (r < 0) {               // end of file; a read error ends the usable part of the file too
        reached_end_of_file = true;
        return false;
      }
      ++stats.packets_read;
      if (packet->stream_index != video_index) {
        av_packet_unref(packet.get());
        continue;
      }
      const int64_t ts = packet->pts != AV_NOPTS_VALUE ? packet->pts : packet->dts;
      if (ts != AV_NOPTS_VALUE && ts > budget.target_ts && ++budget.past_target > kMaxVideoPacketsPastTarget) {
        av_packet_unref(packet.get());
        positioned = false;   // not the real end of the stream: the next request must seek
        return false;
      }
      // A seek by timestamp search (formats without an index) may land inside a group of
      // pictures; decoding from there would give frames with missing references.
      if (awaiting_keyframe && !(packet->flags & AV_PKT_FLAG_KEY)) {
        av_packet_unref(packet.get());
        continue;
      }
      awaiting_keyframe = false;
      // A frame shown before another frame already sent, itself not after the target, cannot be
      // the frame on screen at the target: when no other frame refers to it (a non-reference
      // B-frame), the decoder may drop it undecoded. Roughly halves the work of a seek into a
      // long group of pictures with B-frames. The decoder reads skip_frame per packet only
      // without frame threading, hence the restriction to one thread.
      if (options.threads == 1) {
        const bool superseded = ts != AV_NOPTS_VALUE && budget.latest_fed_ts != AV_NOPTS_VALUE && ts < budget.latest_fed_ts;
        codec->skip_frame = superseded ? AVDISCARD_NONREF : AVDISCARD_DEFAULT;
      }
      if (ts != AV_NOPTS_VALUE && ts <= budget.target_ts &&
          (budget.latest_fed_ts == AV_NOPTS_VALUE || ts > budget.latest_fed_ts)) {
        budget.latest_fed_ts = ts;
      }
      r = avcodec_send_packet(codec.get(), packet.get());
      av_packet_unref(packet.get());
      // EAGAIN cannot happen (the decoder asked for input); any other error is a corrupt packet,
      // which is skipped: the following keyframe decodes again.
      if (r >= 0) return true;
    }
  }

  double frame_seconds(const AVFrame* frame) const {
    int64_t ts = frame->best_effort_timestamp;
    if (ts == AV_NOPTS_VALUE) ts = frame->pts;
    if (ts != AV_NOPTS_VALUE) return seconds(ts);
    // No timestamp at all: one frame period after the previous frame.
    if (std::isnan(last_decoded_s)) return info.start_time_s;
    return last_decoded_s + (info.average_fps > 0 ? 1.0 / info.average_fps : 0.0);
  }

  // The next frame out of the decoder into `out`; false at the end of the stream.
  bool decode_next(AVFrame* out, double& time_s, Budget& budget) {
    for (int drain_errors = 0;;) {
      const int r = avcodec_receive_frame(codec.get(), out);
      if (r >= 0) {
        ++stats.frames_decoded;
        time_s = last_decoded_s = frame_seconds(out);
        return true;
      }
      if (r == AVERROR_EOF) return false;
      // Errors other than EAGAIN concern one frame and the decoder goes on (while draining too,
      // within reason: buffered frames may still follow a broken one).
      if (input_ended) {
        if (r == AVERROR(EAGAIN) || ++drain_errors > 64) return false;
        continue;
      }
      if (!feed_packet(budget)) {
        avcodec_send_packet(codec.get(), nullptr);   // drain the frames held for reordering
        input_ended = true;
      }
    }
  }

  // Decodes forward until `candidate` is the last frame at or before t (or the first frame when
  // all frames after the position are later than t).
  void scan_forward(double t) {
    Budget budget{to_ts(t)};
    for (;;) {
      double time_s = 0;
      if (has_pending) {
        std::swap(scratch, pending);
        has_pending = false;
        time_s = pending_s;
      } else if (!decode_next(scratch.get(), time_s, budget)) {
        return;
      }
      if (has_candidate && time_s > t + kTimeEpsilon) {
        std::swap(pending, scratch);
        has_pending = true;
        pending_s = time_s;
        return;
      }
      std::swap(candidate, scratch);
      has_candidate = true;
      candidate_s = time_s;
      av_frame_unref(scratch.get());
      if (time_s > t + kTimeEpsilon) return;   // first frame already past t: keep it
    }
  }

  // Leaves in `candidate` the frame on screen at t (seconds on the stream's clock).
  void locate(double t) {
    const bool seeked = should_seek(t);
    if (seeked) seek_to(t);
    scan_forward(t);
    if (seeked && has_candidate && candidate_s > t + kTimeEpsilon && t > info.start_time_s) {
      // The keyframe found decodes before t but is shown after it (B-frame delay, imprecise
      // seeking): the frame on screen at t belongs to the previous group of pictures.
      seek_to(t - kSeekBackoffS - (candidate_s - t));
      scan_forward(t);
    }
    if (!has_candidate) {
      // Nothing decodes from the seek point (a truncated file whose index names missing data):
      // the frame on screen is the last one that decodes, found from the start.
      rewind();
      scan_forward(t);
    }
    if (!has_candidate) {
      positioned = false;
      throw MediaError(path, "no video frame decodes (wanted the frame at " +
                                 std::to_string(t - info.start_time_s) + " s)");
    }
    // The stream ran out before the time its container's duration promises: the frame on screen
    // there is missing (a cut file), and the last frame that decodes is not it.
    if (reached_end_of_file && !has_pending && t > candidate_s + end_slack_s()) {
      positioned = false;
      char problem[160];
      std::snprintf(problem, sizeof problem,
                    "truncated: the video stream ends at %.2f s, before the frame at %.2f s of the %.2f s its container declares",
                    candidate_s - info.start_time_s, t - info.start_time_s, info.duration_s);
      throw MediaError(path, problem);
    }
  }

  // ---- conversion ------------------------------------------------------------------------------

  VideoFrame to_rgb(const AVFrame* frame, double time_s) {
    const int w = frame->width, h = frame->height;
    if (w <= 0 || h <= 0) throw MediaError(path, "a decoded frame has no size");
    bool full_range = frame->color_range == AVCOL_RANGE_JPEG;
    const AVPixelFormat source = dejpeg(static_cast<AVPixelFormat>(frame->format), full_range);
    // Bicubic with accurate rounding and full horizontal chroma interpolation: no resizing happens
    // here, so the flags only choose how chroma is upsampled, and quality costs little.
    const int flags = SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT;
    sws.reset(sws_getCachedContext(sws.release(), w, h, source, w, h, AV_PIX_FMT_RGB24, flags,
                                   nullptr, nullptr, nullptr));
    if (!sws) {
      throw MediaError(path, std::string("cannot convert pixel format ") +
                                 (av_get_pix_fmt_name(source) ? av_get_pix_fmt_name(source) : "?") + " to RGB");
    }
    const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(source);
    if (desc && !(desc->flags & AV_PIX_FMT_FLAG_RGB) && desc->nb_components >= 3) {
      // YUV: use the frame's own matrix and range (BT.601 when unspecified, as swscale assumes);
      // gray and RGB sources keep swscale's defaults.
      const int space = frame->colorspace == AVCOL_SPC_UNSPECIFIED ? SWS_CS_DEFAULT : frame->colorspace;
      sws_setColorspaceDetails(sws.get(), sws_getCoefficients(space), full_range ? 1 : 0,
                               sws_getCoefficients(SWS_CS_DEFAULT), 1, 0, 1 << 16, 1 << 16);
    }
    // An aligned intermediate buffer keeps swscale on its fast paths for odd widths.
    if (rgb->width != w || rgb->height != h || rgb->format != AV_PIX_FMT_RGB24) {
      av_frame_unref(rgb.get());
      rgb->format = AV_PIX_FMT_RGB24;
      rgb->width = w;
      rgb->height = h;
      const int r = av_frame_get_buffer(rgb.get(), 0);
      if (r < 0) throw std::bad_alloc();
    }
    const int rows = sws_scale(sws.get(), frame->data, frame->linesize, 0, h, rgb->data, rgb->linesize);
    if (rows != h) throw MediaError(path, "pixel conversion to RGB failed");
    VideoFrame out;
    copy_rotated(rgb->data[0], rgb->linesize[0], w, h, info.rotation_degrees, out.image);
    out.timestamp_s = time_s - info.start_time_s;
    return out;
  }
};

// ------------------------------------------------------------------------------------------------

VideoDecoder::VideoDecoder(const fs::path& path, DecoderOptions options)
    : impl_(std::make_unique<Impl>(path, options)) {}

VideoDecoder::~VideoDecoder() = default;
VideoDecoder::VideoDecoder(VideoDecoder&&) noexcept = default;
VideoDecoder& VideoDecoder::operator=(VideoDecoder&&) noexcept = default;

const fs::path& VideoDecoder::path() const { return impl_->path; }
const MediaInfo& VideoDecoder::info() const { return impl_->info; }
const DecodeStats& VideoDecoder::stats() const { return impl_->stats; }

std::vector<VideoFrame> VideoDecoder::frames_evenly_spaced(int n) {
  if (n < 1) throw std::invalid_argument("frames_evenly_spaced: n must be at least 1");
  Impl& d = *impl_;
  std::vector<VideoFrame> frames;
  frames.reserve(size_t(n));
  for (int i = 0; i < n; ++i) {
    const double t = d.info.start_time_s + (i + 0.5) * d.info.duration_s / n;
    d.locate(t);
    frames.push_back(d.to_rgb(d.candidate.get(), d.candidate_s));
  }
  return frames;
}

std::optional<std::vector<float>> VideoDecoder::audio_mono(int sample_rate, int64_t centre_window) {
  if (sample_rate <= 0) throw std::invalid_argument("audio_mono: sample_rate must be positive");
  if (!impl_->info.has_audio) return std::nullopt;
  return decode_audio_mono(impl_->path, sample_rate, impl_->options.threads, centre_window);
}

}  // namespace avgzsl::media
