// Progress on stderr for the commands that run long (lock, lock-batch,
// attack finetune, eval), in one of three modes:
//   bar    stderr is a terminal: one line redrawn in place ("\r", the line,
//          "\x1b[K" to clear what an earlier, longer line left), with a bar as
//          wide as the terminal allows, the percent done, a short status, the
//          elapsed time and an ETA; at most ~10 redraws a second; a newline
//          when done;
//   plain  stderr is a file or a pipe: the command's one line per round,
//          item or epoch, exactly as before this component existed (scripts
//          and tests parse them);
//   none   --quiet / -q: nothing (errors still print; stdout is unchanged).
// ONNX_CRYPT_PROGRESS=bar|plain|none overrides the detection (not --quiet).
// Progress only ever writes to its stream: it changes no output file and
// nothing on stdout.
#ifndef ONNX_CRYPT_TOOLS_CLI_PROGRESS_H_
#define ONNX_CRYPT_TOOLS_CLI_PROGRESS_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "onnx_crypt/lock/locker.h"

namespace onnx_crypt::cli {

enum class ProgressMode { kNone, kPlain, kBar };

inline constexpr char kProgressEnv[] = "ONNX_CRYPT_PROGRESS";

// The mode for the given circumstances: kNone when `quiet`; otherwise what
// `env` (the value of ONNX_CRYPT_PROGRESS, null or empty when unset) names
// ("bar", "plain", "none"; "auto" or unset: detect); otherwise kBar when
// stderr is a terminal whose `term` (TERM) is not "dumb" (which cannot clear
// a line), else kPlain. An unknown `env` value counts as unset and sets
// `*warning` (when given) to a one-line message saying so.
ProgressMode ChooseProgressMode(bool quiet, const char* env,
                                bool stderr_is_terminal, const char* term,
                                std::string* warning = nullptr);
// ChooseProgressMode with the process's environment and isatty(2); prints
// the warning, if any, on stderr.
ProgressMode DetectProgressMode(bool quiet);

// Where and when a Progress draws: the stream, a monotonic clock and the
// terminal's width. Tests pass a string stream, a fake clock and a fixed
// width, and no ticker.
struct ProgressTerminal {
  std::ostream* out = nullptr;
  std::function<double()> seconds;  // monotonic, in seconds
  std::function<int()> columns;     // the terminal's width in columns
  // Bar mode: a background thread that redraws between updates, so that the
  // elapsed time and ETA keep moving while a long round runs.
  bool ticker = false;
};
// std::cerr, std::chrono::steady_clock, the width of the terminal on fd 2
// (ioctl TIOCGWINSZ; 80 when that fails), and the ticker.
ProgressTerminal StderrTerminal();

// "m:ss" below an hour, "h:mm:ss" from there; "--" for a negative or
// non-finite time. Seconds are rounded down.
std::string FormatDuration(double seconds);

// One bar line, "\r" and clearing excluded:
//   LABEL [=====>      ]  42% STATUS  0:07 ETA 0:09
// with "ETA --" when `eta` is unknown, and only the elapsed time when
// `finished`. It is at most `columns - 1` characters (the last column would
// make some terminals wrap). The bar takes a third of what the label, the
// percent and the clock leave, at least 10 cells, so that its width follows
// the terminal's and not the status; the status gets the rest and is cut to
// fit; a terminal too narrow for even that gets the line cut. `fraction` is
// clamped to [0, 1].
std::string FormatBarLine(const std::string& label, double fraction,
                          const std::string& status, double elapsed,
                          std::optional<double> eta, bool finished,
                          int columns);

// The progress of one command. Thread-safe (the ticker draws from its own
// thread); writes only to the terminal's stream.
class Progress {
 public:
  // Bar mode draws an empty bar ("ETA --") at once, so that a long first
  // round shows that something is running.
  Progress(std::string label, ProgressMode mode, ProgressTerminal terminal);
  // Finish(false) if Finish was not called.
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  ProgressMode mode() const { return mode_; }

  // The command has come `fraction` of the way (clamped to [0, 1]; a value
  // below an earlier one keeps the earlier one, so the bar never moves back)
  // and is at `status` (the bar's text). Plain mode prints `plain_line` and a
  // newline, unless it is empty; bar mode redraws unless it did less than
  // 0.1 s ago (the ticker or the next update or Finish draws it then). The
  // bar shows at most 99 % until Finish(true), with "ETA --" at 99 % or once
  // the ETA has counted down to nothing while the command still runs.
  void Update(double fraction, const std::string& status,
              const std::string& plain_line = "");
  // A line that stays in the log in both modes (a failed item of a batch):
  // plain mode prints it; bar mode clears the bar, prints the line and draws
  // the bar again below it; none prints nothing.
  void Print(const std::string& line);
  // Bar mode: redraws when an update is waiting and the last draw is 0.1 s
  // old, or when the last draw is 1 s old (to move the clock). What the
  // ticker calls; public for tests.
  void Tick();
  // Bar mode: the last draw (at 100 % and without an ETA when `complete`,
  // as it stood otherwise) and a newline. Stops the ticker; later calls to
  // anything draw nothing. Call it before writing the command's summary or
  // an error.
  void Finish(bool complete = true);

 private:
  // With mu_ held.
  void DrawLocked(bool finished);
  void TickLocked();
  void StopTicker();

  const std::string label_;
  const ProgressMode mode_;
  const ProgressTerminal terminal_;

  std::mutex mu_;
  double start_ = 0;
  double fraction_ = 0;
  std::string status_;
  // The remaining time estimated at the last update that could estimate it,
  // and when that update came: the ETA shown counts down from it.
  std::optional<double> remaining_;
  double remaining_at_ = 0;
  double last_draw_ = 0;
  bool dirty_ = false;
  bool finished_ = false;

  std::condition_variable stop_cv_;
  bool stop_ = false;
  std::thread ticker_;
};

// LockFraction (onnx_crypt/lock/locker.h) estimates how far one lock has come.

// lock-batch's fraction of `total` items: the items whose lock is over plus
// the running lock's own LockFraction. The batch reports an item only after
// its files are written, which overlaps the next item's lock, so a new lock is
// recognized by its round count starting again, and an item report ends
// every lock up to it. Not thread-safe.
class BatchFraction {
 public:
  BatchFraction(int total, int max_values)
      : total_(total), max_values_(max_values) {}
  // A round of the lock under way.
  void OnRound(const LockRound& r);
  // `done` items (in order) have been reported.
  void OnItem(int done);
  double fraction() const;
  // The 1-based number of the item whose lock is under way, or 0.
  int current_item() const { return active_ ? active_item_ + 1 : 0; }

 private:
  const int total_;
  const int max_values_;
  int over_ = 0;  // items whose lock is over (or that never locked)
  bool active_ = false;
  int active_item_ = 0;  // 0-based, while active_
  int last_round_ = 0;
  double lock_fraction_ = 0;
};

// A progress(done, total) callback over samples for `progress` (which must
// outlive it): the bar moves with every call; plain mode prints
// "LABEL: DONE/TOTAL samples" about every 10 %.
std::function<void(int64_t, int64_t)> SampleProgress(Progress& progress,
                                                     const std::string& label);

}  // namespace onnx_crypt::cli

#endif  // ONNX_CRYPT_TOOLS_CLI_PROGRESS_H_
