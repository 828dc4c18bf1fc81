#include "ffmpeg_handles.h"

extern "C" {
#include <libavutil/dict.h>
}

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <new>
#include <system_error>

#include "avgzsl/media/video_decoder.h"

namespace avgzsl::media {
namespace fs = std::filesystem;

FramePtr make_frame() {
  FramePtr frame(av_frame_alloc());
  if (!frame) throw std::bad_alloc();
  return frame;
}

PacketPtr make_packet() {
  PacketPtr packet(av_packet_alloc());
  if (!packet) throw std::bad_alloc();
  return packet;
}

std::string av_error_text(int code) {
  char text[AV_ERROR_MAX_STRING_SIZE] = {};
  if (av_strerror(code, text, sizeof text) < 0) return "error " + std::to_string(code);
  return text;
}

FormatPtr open_media(const fs::path& path) {
  // FFmpeg's own messages for these cases are vague ("Invalid data found"), so check first.
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (!fs::exists(status)) throw MediaError(path, "no such file");
  if (fs::is_directory(status)) throw MediaError(path, "is a directory, not a media file");
  // A FIFO or a device would block or never end (FFmpeg reads them happily).
  if (!fs::is_regular_file(status)) throw MediaError(path, "not a regular file; avgzsl reads only regular files");
  if (fs::is_regular_file(status) && fs::file_size(path, ec) == 0 && !ec) throw MediaError(path, "empty file");

  AVDictionary* options = nullptr;
  av_dict_set(&options, "protocol_whitelist", "file", 0);
  AVFormatContext* raw = nullptr;
  // "file:" keeps a name such as "rtmp:x.mp4" or "a|b.mp4" a local path rather than a URL.
  const std::string url = "file:" + path.string();
  int r = avformat_open_input(&raw, url.c_str(), nullptr, &options);
  av_dict_free(&options);
  if (r < 0) throw MediaError(path, "not a readable media file (" + av_error_text(r) + ")");
  FormatPtr format(raw);   // avformat_open_input frees the context itself when it fails
  r = avformat_find_stream_info(format.get(), nullptr);
  if (r < 0) throw MediaError(path, "cannot read the stream information (" + av_error_text(r) + ")");
  return format;
}

int best_video_stream(AVFormatContext* format) {
  const int best = av_find_best_stream(format, AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  if (best >= 0 && !(format->streams[best]->disposition & AV_DISPOSITION_ATTACHED_PIC)) return best;
  for (unsigned i = 0; i < format->nb_streams; ++i) {
    const AVStream* s = format->streams[i];
    if (s->codecpar->codec_type == AVMEDIA_TYPE_VIDEO && !(s->disposition & AV_DISPOSITION_ATTACHED_PIC)) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

int best_audio_stream(AVFormatContext* format) {
  const int index = av_find_best_stream(format, AVMEDIA_TYPE_AUDIO, -1, best_video_stream(format), nullptr, 0);
  return index >= 0 ? index : -1;
}

namespace {

bool is_avi(const AVFormatContext* format) { return format->iformat && std::strcmp(format->iformat->name, "avi") == 0; }

// "HH:MM:SS.nnnnnnnnn" (Matroska's DURATION tag) -> seconds, NaN when malformed.
double parse_clock(const char* text) {
  int hours = 0, minutes = 0;
  double seconds = 0;
  if (std::sscanf(text, "%d:%d:%lf", &hours, &minutes, &seconds) != 3 || hours < 0 || minutes < 0 || seconds < 0) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  return hours * 3600.0 + minutes * 60.0 + seconds;
}

std::string seconds_text(double s) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f s", s);
  return text;
}

}  // namespace

double declared_stream_seconds(const AVFormatContext* format, const AVStream* stream) {
  const double tick = av_q2d(stream->time_base);
  if (is_avi(format) && stream->nb_frames > 0 && tick > 0) return double(stream->nb_frames) * tick;
  if (stream->duration != AV_NOPTS_VALUE && stream->duration > 0 && tick > 0) return double(stream->duration) * tick;
  if (const AVDictionaryEntry* tag = av_dict_get(stream->metadata, "DURATION", nullptr, 0)) return parse_clock(tag->value);
  return std::numeric_limits<double>::quiet_NaN();
}

void check_not_truncated(const fs::path& path, AVFormatContext* format) {
  const int64_t file_size = format->pb ? avio_size(format->pb) : -1;
  for (unsigned i = 0; i < format->nb_streams; ++i) {
    const AVStream* stream = format->streams[i];
    const int entries = avformat_index_get_entries_count(stream);
    if (file_size > 0 && entries > 0) {
      // The index is sorted by time, not by position: look at every entry.
      int64_t needed = 0;
      for (int e = 0; e < entries; ++e) {
        const AVIndexEntry* entry = avformat_index_get_entry(const_cast<AVStream*>(stream), e);
        if (entry && entry->pos >= 0) needed = std::max<int64_t>(needed, entry->pos + entry->size);
      }
      if (needed > file_size) {
        throw MediaError(path, "truncated: the container's index needs " + std::to_string(needed) + " bytes, the file has " +
                                   std::to_string(file_size));
      }
    }
    // AVI: FFmpeg rebuilds the duration from the chunks a file without its index (cut before the
    // end) still holds; the header's length is what the file claimed. Two frames' worth of slack.
    if (is_avi(format) && stream->nb_frames > 0 && stream->duration > 0 && stream->duration != AV_NOPTS_VALUE &&
        stream->codecpar->codec_type == AVMEDIA_TYPE_VIDEO) {
      const double tick = av_q2d(stream->time_base);
      const double declared = double(stream->nb_frames) * tick, held = double(stream->duration) * tick;
      if (declared - held > 2 * tick + 0.01 * declared) {
        throw MediaError(path, "truncated: the AVI header declares " + seconds_text(declared) + " of video, the file holds " +
                                   seconds_text(held));
      }
    }
  }
}

CodecPtr open_decoder(const fs::path& path, const AVStream* stream, int threads, const char* kind) {
  const AVCodecParameters* par = stream->codecpar;
  const AVCodec* decoder = avcodec_find_decoder(par->codec_id);
  if (!decoder) {
    throw MediaError(path, std::string("no decoder for the ") + kind + " codec " + avcodec_get_name(par->codec_id));
  }
  CodecPtr codec(avcodec_alloc_context3(decoder));
  if (!codec) throw std::bad_alloc();
  int r = avcodec_parameters_to_context(codec.get(), par);
  if (r < 0) throw MediaError(path, std::string("bad ") + kind + " stream parameters (" + av_error_text(r) + ")");
  codec->pkt_timebase = stream->time_base;
  codec->thread_count = std::max(0, threads);
  r = avcodec_open2(codec.get(), decoder, nullptr);
  if (r < 0) throw MediaError(path, std::string("cannot open the ") + kind + " decoder (" + av_error_text(r) + ")");
  return codec;
}

}  // namespace avgzsl::media
