#include "tools/cli/progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace onnx_crypt::cli {
namespace {

// A bar redraws at most this often on updates (~10 a second), and at least
// this often while nothing changes (the clock).
constexpr double kMinRedrawSeconds = 0.1;
constexpr double kClockRedrawSeconds = 1.0;
constexpr int kMinBarCells = 10;
// Until Finish, the bar shows at most 99 %: an estimate can reach 100 % while
// the command still works (the hardened lock goes on past the target; files
// are still being written), and 100 % should mean done.
constexpr double kLiveCap = 0.99;
constexpr int kFallbackColumns = 80;
// "\x1b[K" (EL, erase to the end of the line) clears what a longer earlier
// line left; every terminal emulator in use and the Linux console have it.
constexpr char kClearToEnd[] = "\x1b[K";

double Clamp01(double f) {
  if (!(f > 0)) return 0;  // NaN too
  return std::min(f, 1.0);
}

int StderrColumns() {
  winsize ws{};
  if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
    return ws.ws_col;
  }
  return kFallbackColumns;
}

double SteadySeconds() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

ProgressMode ChooseProgressMode(bool quiet, const char* env,
                                bool stderr_is_terminal, const char* term,
                                std::string* warning) {
  if (quiet) return ProgressMode::kNone;
  if (env != nullptr && *env != '\0') {
    if (std::strcmp(env, "bar") == 0) return ProgressMode::kBar;
    if (std::strcmp(env, "plain") == 0) return ProgressMode::kPlain;
    if (std::strcmp(env, "none") == 0) return ProgressMode::kNone;
    if (std::strcmp(env, "auto") != 0 && warning != nullptr) {
      *warning = absl::StrCat("onnx-crypt: ignoring ", kProgressEnv, "=", env,
                              " (expected bar, plain, none or auto)");
    }
  }
  const bool dumb = term != nullptr && std::strcmp(term, "dumb") == 0;
  return stderr_is_terminal && !dumb ? ProgressMode::kBar
                                     : ProgressMode::kPlain;
}

ProgressMode DetectProgressMode(bool quiet) {
  if (quiet) return ProgressMode::kNone;
  std::string warning;
  const ProgressMode mode = ChooseProgressMode(false, std::getenv(kProgressEnv),
                                               isatty(STDERR_FILENO) == 1,
                                               std::getenv("TERM"), &warning);
  if (!warning.empty()) std::cerr << warning << "\n";
  return mode;
}

ProgressTerminal StderrTerminal() {
  ProgressTerminal t;
  t.out = &std::cerr;
  t.seconds = SteadySeconds;
  t.columns = StderrColumns;
  t.ticker = true;
  return t;
}

std::string FormatDuration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "--";
  const int64_t s = static_cast<int64_t>(seconds);
  if (s < 3600) return absl::StrFormat("%d:%02d", s / 60, s % 60);
  return absl::StrFormat("%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60);
}

std::string FormatBarLine(const std::string& label, double fraction,
                          const std::string& status, double elapsed,
                          std::optional<double> eta, bool finished,
                          int columns) {
  fraction = Clamp01(fraction);
  // Rounded down (100 % only when done), less a hair of binary rounding.
  const int percent = static_cast<int>(std::floor(fraction * 100 + 1e-9));
  const std::string head = label + " [";
  const std::string mid = absl::StrFormat("] %3d%%", percent);
  std::string clock = "  " + FormatDuration(elapsed);
  if (!finished) {
    absl::StrAppend(&clock, " ETA ", eta ? FormatDuration(*eta) : "--");
  }
  const int budget = std::max(columns - 1, 0);
  // The bar's width depends on the terminal's alone (a clock of up to an
  // hour reserved), so that it does not jump as the status changes.
  const int fixed = static_cast<int>(head.size() + mid.size());
  const int clock_reserve = std::max(static_cast<int>(clock.size()), 15);
  const int cells =
      std::max((budget - fixed - clock_reserve) / 3, kMinBarCells);
  const int room_for_tail =
      std::max(budget - fixed - cells - static_cast<int>(clock.size()), 0);
  std::string tail = status.empty() ? "" : " " + status;
  if (static_cast<int>(tail.size()) > room_for_tail) {
    tail.resize(room_for_tail < 2 ? 0 : room_for_tail);
  }
  const int filled =
      fraction >= 1.0 ? cells
                      : std::min(cells - 1, static_cast<int>(fraction * cells));
  std::string bar(cells, ' ');
  std::fill(bar.begin(), bar.begin() + filled, '=');
  if (filled > 0 && filled < cells) bar[filled] = '>';
  std::string line = head + bar + mid + tail + clock;
  if (static_cast<int>(line.size()) > budget) line.resize(budget);
  return line;
}

Progress::Progress(std::string label, ProgressMode mode,
                   ProgressTerminal terminal)
    : label_(std::move(label)), mode_(mode), terminal_(std::move(terminal)) {
  if (mode_ != ProgressMode::kBar) return;
  std::lock_guard<std::mutex> lock(mu_);
  start_ = terminal_.seconds();
  DrawLocked(false);
  if (terminal_.ticker) {
    ticker_ = std::thread([this] {
      std::unique_lock<std::mutex> lock(mu_);
      const auto period = std::chrono::duration<double>(kMinRedrawSeconds);
      while (!stop_cv_.wait_for(lock, period, [this] { return stop_; })) {
        TickLocked();
      }
    });
  }
}

Progress::~Progress() {
  Finish(false);
  StopTicker();
}

void Progress::Update(double fraction, const std::string& status,
                      const std::string& plain_line) {
  if (mode_ == ProgressMode::kNone) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (finished_) return;
  if (mode_ == ProgressMode::kPlain) {
    if (!plain_line.empty()) *terminal_.out << plain_line << "\n" << std::flush;
    return;
  }
  const double now = terminal_.seconds();
  fraction_ = std::max(fraction_, std::min(Clamp01(fraction), kLiveCap));
  status_ = status;
  // Rate so far = fraction / elapsed, so remaining = elapsed (1 - f) / f. At
  // the cap the estimate has nothing left to say.
  const double elapsed = now - start_;
  if (fraction_ >= kLiveCap) {
    remaining_.reset();
  } else if (fraction_ > 0 && elapsed > 0) {
    remaining_ = elapsed * (1 - fraction_) / fraction_;
    remaining_at_ = now;
  }
  dirty_ = true;
  if (now - last_draw_ >= kMinRedrawSeconds) DrawLocked(false);
}

void Progress::Print(const std::string& line) {
  if (mode_ == ProgressMode::kNone) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (mode_ == ProgressMode::kPlain || finished_) {
    *terminal_.out << line << "\n" << std::flush;
    return;
  }
  *terminal_.out << "\r" << kClearToEnd << line << "\n";
  DrawLocked(false);
}

void Progress::Tick() {
  if (mode_ != ProgressMode::kBar) return;
  std::lock_guard<std::mutex> lock(mu_);
  TickLocked();
}

void Progress::TickLocked() {
  if (finished_) return;
  const double now = terminal_.seconds();
  if ((dirty_ && now - last_draw_ >= kMinRedrawSeconds) ||
      now - last_draw_ >= kClockRedrawSeconds) {
    DrawLocked(false);
  }
}

void Progress::Finish(bool complete) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (finished_) return;
    finished_ = true;
    if (mode_ == ProgressMode::kBar) {
      if (complete) fraction_ = 1;
      DrawLocked(true);
      *terminal_.out << "\n" << std::flush;
    }
  }
  StopTicker();
}

void Progress::DrawLocked(bool finished) {
  const double now = terminal_.seconds();
  std::optional<double> eta;
  // Counting down; once run out with the command still running, unknown.
  if (remaining_ && *remaining_ - (now - remaining_at_) > 0) {
    eta = *remaining_ - (now - remaining_at_);
  }
  const int columns =
      terminal_.columns ? terminal_.columns() : kFallbackColumns;
  *terminal_.out << "\r"
                 << FormatBarLine(label_, fraction_, status_, now - start_, eta,
                                  finished, columns)
                 << kClearToEnd << std::flush;
  last_draw_ = now;
  dirty_ = false;
}

void Progress::StopTicker() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (ticker_.joinable()) ticker_.join();
}

void BatchFraction::OnRound(const LockRound& r) {
  if (!active_ || r.round <= last_round_) {
    if (active_) over_ = std::max(over_, active_item_ + 1);
    active_ = true;
    active_item_ = over_;
  }
  last_round_ = r.round;
  lock_fraction_ = LockFraction(r, max_values_);
}

void BatchFraction::OnItem(int done) {
  over_ = std::max(over_, done);
  if (active_ && active_item_ < done) active_ = false;
}

double BatchFraction::fraction() const {
  if (total_ <= 0) return 1;
  const double items = over_ + (active_ ? lock_fraction_ : 0);
  return Clamp01(items / total_);
}

std::function<void(int64_t, int64_t)> SampleProgress(Progress& progress,
                                                     const std::string& label) {
  int64_t last_decile = -1;
  return [&progress, label, last_decile](int64_t done, int64_t total) mutable {
    const int64_t decile = total > 0 ? done * 10 / total : 10;
    std::string line;
    if (decile != last_decile) {
      last_decile = decile;
      line = absl::StrCat(label, ": ", done, "/", total, " samples");
    }
    progress.Update(total > 0 ? static_cast<double>(done) / total : 1.0,
                    absl::StrCat(done, "/", total, " samples"), line);
  };
}

}  // namespace onnx_crypt::cli
