// Private to avgzsl_media: owning handles for FFmpeg objects and the shared way to open a file.
#pragma once

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libswresample/swresample.h>
#include <libswscale/swscale.h>
}

#include <filesystem>
#include <memory>
#include <string>

namespace avgzsl::media {

struct FormatCloser {
  void operator()(AVFormatContext* c) const { avformat_close_input(&c); }
};
struct CodecFreer {
  void operator()(AVCodecContext* c) const { avcodec_free_context(&c); }
};
struct FrameFreer {
  void operator()(AVFrame* f) const { av_frame_free(&f); }
};
struct PacketFreer {
  void operator()(AVPacket* p) const { av_packet_free(&p); }
};
struct SwsFreer {
  void operator()(SwsContext* c) const { sws_freeContext(c); }
};
struct SwrFreer {
  void operator()(SwrContext* c) const { swr_free(&c); }
};

using FormatPtr = std::unique_ptr<AVFormatContext, FormatCloser>;
using CodecPtr = std::unique_ptr<AVCodecContext, CodecFreer>;
using FramePtr = std::unique_ptr<AVFrame, FrameFreer>;
using PacketPtr = std::unique_ptr<AVPacket, PacketFreer>;
using SwsPtr = std::unique_ptr<SwsContext, SwsFreer>;
using SwrPtr = std::unique_ptr<SwrContext, SwrFreer>;

FramePtr make_frame();
PacketPtr make_packet();

// FFmpeg's text for an error code ("Invalid data found when processing input").
std::string av_error_text(int code);

// Opens a local file and reads its stream information; throws MediaError (missing, empty, a
// directory, not a media file, unreadable headers). Only the "file" protocol is allowed, so a
// playlist disguised as a video cannot make FFmpeg fetch anything else.
FormatPtr open_media(const std::filesystem::path& path);

// The video stream to decode (cover art, a one-picture "video" stream in audio files, does not
// count), or -1.
int best_video_stream(AVFormatContext* format);
// The audio stream that belongs with best_video_stream (same program), or -1.
int best_audio_stream(AVFormatContext* format);

// How long `stream` says it is, in seconds, from the container's own record: AVI's header length
// (kept in nb_frames: FFmpeg replaces the duration by what a file without its index still holds),
// the stream's duration, or Matroska's per-track DURATION tag; NaN when the container says nothing.
double declared_stream_seconds(const AVFormatContext* format, const AVStream* stream);

// Throws MediaError "truncated: ..." when the container's own records show that data is missing:
// an index entry that lies past the end of the file (an MP4 with its index first, cut short), or
// an AVI header that declares more than the file holds.
void check_not_truncated(const std::filesystem::path& path, AVFormatContext* format);

// Opens the decoder for `stream` with `threads` threads (0: FFmpeg's choice); `kind` ("video",
// "audio") only words the errors.
CodecPtr open_decoder(const std::filesystem::path& path, const AVStream* stream, int threads,
                      const char* kind);

}  // namespace avgzsl::media
