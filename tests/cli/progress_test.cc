// The CLI's progress display (tools/cli/progress.h): the mode chosen, the bar
// line's layout and ETA on a fake clock and a fake terminal width, the
// redraw rate, a fraction that never moves back, one line per update in plain
// mode, nothing at all in none, and the lock and batch fraction estimates.
#include "tools/cli/progress.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace onnx_crypt::cli {
namespace {

// A terminal with a clock and a width the test sets.
struct FakeTerminal {
  std::ostringstream out;
  double now = 0;
  int columns = 80;
  ProgressTerminal terminal() {
    ProgressTerminal t;
    t.out = &out;
    t.seconds = [this] { return now; };
    t.columns = [this] { return columns; };
    t.ticker = false;
    return t;
  }
  // The bar as drawn last: the text after the last "\r", without the clearing.
  std::string LastBar() const {
    std::string s = out.str();
    if (!s.empty() && s.back() == '\n') s.pop_back();
    const size_t r = s.rfind('\r');
    std::string line = r == std::string::npos ? s : s.substr(r + 1);
    const size_t clear = line.rfind("\x1b[K");
    if (clear != std::string::npos) line.erase(clear);
    return line;
  }
  int Draws() const {
    const std::string s = out.str();
    return static_cast<int>(std::count(s.begin(), s.end(), '\r'));
  }
};

TEST(ProgressModeTest, QuietWinsThenTheEnvironmentThenTheTerminal) {
  EXPECT_EQ(ChooseProgressMode(true, "bar", true, "xterm"),
            ProgressMode::kNone);
  EXPECT_EQ(ChooseProgressMode(false, nullptr, true, "xterm"),
            ProgressMode::kBar);
  EXPECT_EQ(ChooseProgressMode(false, nullptr, false, "xterm"),
            ProgressMode::kPlain);
  EXPECT_EQ(ChooseProgressMode(false, "", true, nullptr), ProgressMode::kBar);
  // A dumb terminal cannot clear a line.
  EXPECT_EQ(ChooseProgressMode(false, nullptr, true, "dumb"),
            ProgressMode::kPlain);
  EXPECT_EQ(ChooseProgressMode(false, "bar", false, nullptr),
            ProgressMode::kBar);
  EXPECT_EQ(ChooseProgressMode(false, "plain", true, "xterm"),
            ProgressMode::kPlain);
  EXPECT_EQ(ChooseProgressMode(false, "none", true, "xterm"),
            ProgressMode::kNone);
  std::string warning;
  EXPECT_EQ(ChooseProgressMode(false, "auto", false, nullptr, &warning),
            ProgressMode::kPlain);
  EXPECT_EQ(warning, "");
  EXPECT_EQ(ChooseProgressMode(false, "fancy", true, "xterm", &warning),
            ProgressMode::kBar);
  EXPECT_NE(warning.find("ONNX_CRYPT_PROGRESS=fancy"), std::string::npos)
      << warning;
}

TEST(FormatDurationTest, MinutesThenHours) {
  EXPECT_EQ(FormatDuration(0), "0:00");
  EXPECT_EQ(FormatDuration(7.9), "0:07");
  EXPECT_EQ(FormatDuration(61), "1:01");
  EXPECT_EQ(FormatDuration(3599.5), "59:59");
  EXPECT_EQ(FormatDuration(3600), "1:00:00");
  EXPECT_EQ(FormatDuration(3723), "1:02:03");
  EXPECT_EQ(FormatDuration(-1), "--");
  EXPECT_EQ(FormatDuration(std::nan("")), "--");
  EXPECT_EQ(FormatDuration(std::numeric_limits<double>::infinity()), "--");
}

// The cells between the brackets of a bar line.
int BarCells(const std::string& line) {
  const size_t open = line.find('['), close = line.find(']');
  if (open == std::string::npos || close == std::string::npos) return -1;
  return static_cast<int>(close - open - 1);
}

TEST(FormatBarLineTest, Layout) {
  // 120 columns, 119 usable: the bar is a third of what "lock [", "]  50%"
  // and a 15-character clock leave, (119 - 27) / 3 = 30 cells.
  EXPECT_EQ(
      FormatBarLine("lock", 0.5, "round 2", 10, 10.0, false, 120),
      "lock [===============>              ]  50% round 2  0:10 ETA 0:10");
  // The same bar with the ETA unknown and when finished.
  EXPECT_EQ(FormatBarLine("lock", 0.5, "round 2", 10, std::nullopt, false, 120),
            "lock [===============>              ]  50% round 2  0:10 ETA --");
  EXPECT_EQ(FormatBarLine("lock", 1.0, "round 5", 75, 0.0, true, 120),
            "lock [==============================] 100% round 5  1:15");
  // At least 10 cells.
  EXPECT_EQ(FormatBarLine("eval", 0, "", 0, std::nullopt, false, 40),
            "eval [          ]   0%  0:00 ETA --");
  // Out of range fractions are clamped.
  EXPECT_EQ(FormatBarLine("x", -3, "", 0, std::nullopt, true, 30),
            FormatBarLine("x", 0, "", 0, std::nullopt, true, 30));
  EXPECT_EQ(FormatBarLine("x", 7, "", 0, std::nullopt, true, 30),
            FormatBarLine("x", 1, "", 0, std::nullopt, true, 30));
  // 99.9 % is not yet 100 %, and its bar is not yet full.
  const std::string almost =
      FormatBarLine("x", 0.999, "", 0, std::nullopt, false, 30);
  EXPECT_NE(almost.find(" 99%"), std::string::npos) << almost;
  EXPECT_NE(almost.find(">]"), std::string::npos) << almost;
}

TEST(FormatBarLineTest, WidthFollowsTheTerminalNotTheStatus) {
  const std::string status = "round 12: 48 values, accuracy 0.3125";
  int last_cells = 1 << 30;
  for (int columns : {200, 120, 80, 60, 45, 30, 12, 1, 0}) {
    const std::string line =
        FormatBarLine("lock-batch", 0.3, status, 65, 150.0, false, columns);
    EXPECT_LE(static_cast<int>(line.size()), std::max(columns - 1, 0)) << line;
    if (columns >= 45) {
      const int cells = BarCells(line);
      EXPECT_GE(cells, 10) << line;
      EXPECT_LE(cells, last_cells) << line;
      last_cells = cells;
      // Whatever the status, the same bar.
      EXPECT_EQ(BarCells(FormatBarLine("lock-batch", 0.3, "", 65, std::nullopt,
                                       false, columns)),
                cells);
    }
  }
  EXPECT_EQ(BarCells(FormatBarLine("lock", 0, "", 0, 0.0, false, 200)), 57);
  // Wide: the whole status.
  const std::string wide =
      FormatBarLine("lock", 0.3, status, 65, 150.0, false, 120);
  EXPECT_NE(wide.find(status), std::string::npos) << wide;
  // Narrow: the status is cut, so that the bar keeps 10 cells and the clock
  // stays whole.
  const std::string narrow =
      FormatBarLine("lock", 0.3, status, 65, 150.0, false, 45);
  EXPECT_EQ(narrow, "lock [===>      ]  30% round   1:05 ETA 2:30");
}

TEST(ProgressTest, BarDrawsAtOnceThenEstimatesAnEta) {
  FakeTerminal t;
  Progress p("lock", ProgressMode::kBar, t.terminal());
  EXPECT_EQ(t.out.str().substr(0, 1), "\r");
  EXPECT_NE(t.LastBar().find("  0%  0:00 ETA --"), std::string::npos)
      << t.LastBar();
  // A quarter done after 2 s: 6 s to go.
  t.now = 2;
  p.Update(0.25, "round 1");
  EXPECT_NE(t.LastBar().find(" 25% round 1  0:02 ETA 0:06"), std::string::npos)
      << t.LastBar();
  // The ETA counts down between updates.
  t.now = 5;
  p.Tick();
  EXPECT_NE(t.LastBar().find(" 25% round 1  0:05 ETA 0:03"), std::string::npos)
      << t.LastBar();
  // Every draw clears what a longer line left.
  EXPECT_EQ(t.out.str().substr(t.out.str().size() - 3), "\x1b[K");
  t.now = 6;
  p.Finish();
  EXPECT_EQ(t.out.str().back(), '\n');
  EXPECT_NE(t.LastBar().find("100% round 1  0:06"), std::string::npos)
      << t.LastBar();
  EXPECT_EQ(t.LastBar().find("ETA"), std::string::npos) << t.LastBar();
  // Nothing after Finish.
  const std::string before = t.out.str();
  t.now = 9;
  p.Update(0.9, "late");
  p.Tick();
  p.Finish();
  EXPECT_EQ(t.out.str(), before);
}

TEST(ProgressTest, HundredPercentOnlyWhenFinished) {
  FakeTerminal t;
  Progress p("lock", ProgressMode::kBar, t.terminal());
  t.now = 4;
  p.Update(1.0, "round 3");  // the estimate says done; the command is not
  EXPECT_NE(t.LastBar().find(" 99% round 3  0:04 ETA --"), std::string::npos)
      << t.LastBar();
  t.now = 5;
  p.Finish();
  EXPECT_NE(t.LastBar().find("100% round 3  0:05"), std::string::npos)
      << t.LastBar();
}

TEST(ProgressTest, AnEtaThatRanOutIsUnknown) {
  FakeTerminal t;
  Progress p("lock", ProgressMode::kBar, t.terminal());
  t.now = 1;
  p.Update(0.5, "round 1");  // 1 s to go
  EXPECT_NE(t.LastBar().find("0:01 ETA 0:01"), std::string::npos)
      << t.LastBar();
  t.now = 3;
  p.Tick();
  EXPECT_NE(t.LastBar().find("0:03 ETA --"), std::string::npos) << t.LastBar();
}

TEST(ProgressTest, NoEtaUntilSomethingIsDone) {
  FakeTerminal t;
  Progress p("lock", ProgressMode::kBar, t.terminal());
  t.now = 3;
  p.Update(0, "round 1");
  EXPECT_NE(t.LastBar().find("0:03 ETA --"), std::string::npos) << t.LastBar();
}

TEST(ProgressTest, FractionNeverMovesBack) {
  FakeTerminal t;
  Progress p("lock", ProgressMode::kBar, t.terminal());
  t.now = 1;
  p.Update(0.5, "a");
  t.now = 2;
  p.Update(0.3, "b");
  EXPECT_NE(t.LastBar().find(" 50% b"), std::string::npos) << t.LastBar();
  t.now = 3;
  p.Update(std::nan(""), "c");
  EXPECT_NE(t.LastBar().find(" 50% c"), std::string::npos) << t.LastBar();
  t.now = 4;
  p.Update(0.75, "d");
  EXPECT_NE(t.LastBar().find(" 75% d"), std::string::npos) << t.LastBar();
}

TEST(ProgressTest, RedrawsAtMostTenTimesASecond) {
  FakeTerminal t;
  Progress p("lock", ProgressMode::kBar, t.terminal());
  // 1000 updates over one second.
  for (int i = 1; i <= 1000; ++i) {
    t.now = i / 1000.0;
    p.Update(i / 1000.0, "x");
  }
  EXPECT_GE(t.Draws(), 9);
  EXPECT_LE(t.Draws(), 11);
  // An update soon after a draw is withheld; the next Tick once it is due
  // draws it.
  t.now = 2;
  p.Update(0.999, "drawn");
  EXPECT_NE(t.LastBar().find("drawn"), std::string::npos) << t.LastBar();
  t.now = 2.05;
  p.Update(0.999, "withheld");
  EXPECT_EQ(t.LastBar().find("withheld"), std::string::npos) << t.LastBar();
  t.now = 2.08;
  p.Tick();
  EXPECT_EQ(t.LastBar().find("withheld"), std::string::npos) << t.LastBar();
  t.now = 2.2;
  p.Tick();
  EXPECT_NE(t.LastBar().find("withheld"), std::string::npos) << t.LastBar();
  // With nothing new, Tick redraws only to move the clock, once a second.
  const int draws = t.Draws();
  t.now = 2.9;
  p.Tick();
  EXPECT_EQ(t.Draws(), draws);
  t.now = 3.3;
  p.Tick();
  EXPECT_EQ(t.Draws(), draws + 1);
}

TEST(ProgressTest, BarFollowsTheTerminalWidth) {
  FakeTerminal t;
  t.columns = 100;
  Progress p("lock", ProgressMode::kBar, t.terminal());
  EXPECT_EQ(BarCells(t.LastBar()), (99 - 27) / 3) << t.LastBar();
  // Resized while running.
  t.columns = 70;
  t.now = 1;
  p.Update(0.1, "round 1");
  EXPECT_EQ(BarCells(t.LastBar()), (69 - 27) / 3) << t.LastBar();
}

TEST(ProgressTest, PrintKeepsALineAboveTheBar) {
  FakeTerminal t;
  Progress p("lock-batch", ProgressMode::kBar, t.terminal());
  t.now = 1;
  p.Update(0.5, "1/2 done");
  const size_t before = t.out.str().size();
  p.Print("lock-batch: [1/2] FAILED a-0.onnx: bad");
  const std::string added = t.out.str().substr(before);
  const std::string expected =
      "\r\x1b[Klock-batch: [1/2] FAILED a-0.onnx: bad\n\rlock-batch [";
  EXPECT_EQ(added.substr(0, expected.size()), expected) << added;
  EXPECT_NE(t.LastBar().find(" 50% 1/2 done"), std::string::npos)
      << t.LastBar();
}

TEST(ProgressTest, FailedFinishKeepsTheFraction) {
  FakeTerminal t;
  {
    Progress p("lock", ProgressMode::kBar, t.terminal());
    t.now = 1;
    p.Update(0.4, "round 2");
  }  // destroyed without Finish: ends the line as it stood
  EXPECT_EQ(t.out.str().back(), '\n');
  EXPECT_NE(t.LastBar().find(" 40% round 2  0:01"), std::string::npos)
      << t.LastBar();
  EXPECT_EQ(t.LastBar().find("ETA"), std::string::npos) << t.LastBar();
}

TEST(ProgressTest, PlainPrintsOneLinePerUpdateThatHasOne) {
  FakeTerminal t;
  Progress p("lock", ProgressMode::kPlain, t.terminal());
  EXPECT_EQ(t.out.str(), "");
  p.Update(0.1, "round 1", "lock: round 1: 4 values locked");
  p.Update(0.1, "between");  // no plain line: nothing
  p.Update(0.05, "round 2", "lock: round 2: 8 values locked");
  p.Print("a line that stays");
  p.Tick();
  p.Finish();
  EXPECT_EQ(t.out.str(),
            "lock: round 1: 4 values locked\n"
            "lock: round 2: 8 values locked\n"
            "a line that stays\n");
}

TEST(ProgressTest, NonePrintsNothing) {
  FakeTerminal t;
  {
    Progress p("lock", ProgressMode::kNone, t.terminal());
    t.now = 1;
    p.Update(0.5, "round 1", "lock: round 1");
    p.Print("FAILED");
    p.Tick();
    p.Finish(false);
  }
  EXPECT_EQ(t.out.str(), "");
}

TEST(ProgressTest, TickerRedrawsOnItsOwn) {
  // The real clock, a fake stream: the ticker thread draws within ~1 s.
  std::ostringstream out;
  ProgressTerminal terminal = StderrTerminal();
  terminal.out = &out;
  terminal.columns = [] { return 60; };
  {
    Progress p("lock", ProgressMode::kBar, terminal);
    p.Update(0.5, "round 1");
    for (int i = 0; i < 40; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    p.Finish();
  }
  const std::string s = out.str();
  EXPECT_GE(std::count(s.begin(), s.end(), '\r'), 3) << s;
  EXPECT_EQ(s.back(), '\n');
}

TEST(SampleProgressTest, PlainPrintsAboutEveryTenPercent) {
  FakeTerminal t;
  Progress p("eval", ProgressMode::kPlain, t.terminal());
  auto callback = SampleProgress(p, "eval");
  for (int64_t done = 100; done <= 1000; done += 50) callback(done, 1000);
  const std::vector<std::string> lines =
      absl::StrSplit(t.out.str(), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 10u) << t.out.str();
  EXPECT_EQ(lines.front(), "eval: 100/1000 samples");
  EXPECT_EQ(lines.back(), "eval: 1000/1000 samples");
}

LockRound Round(int round, int locked, double accuracy) {
  LockRound r;
  r.round = round;
  r.locked = locked;
  r.sample_accuracy = accuracy;
  r.sample_accuracy_before = 0.9;
  r.target_accuracy = 0.1;
  return r;
}

TEST(LockFractionTest, TheLargerOfBudgetAndAccuracy) {
  // Accuracy 0.9 -> 0.5 of the way to 0.1: half; 4 of 256 values: less.
  EXPECT_DOUBLE_EQ(LockFraction(Round(1, 4, 0.5), 256), 0.5);
  // 200 of 256 values, accuracy barely moved: the budget share.
  EXPECT_DOUBLE_EQ(LockFraction(Round(50, 200, 0.8), 256), 200.0 / 256);
  // Past the target, past the budget: 1.
  EXPECT_DOUBLE_EQ(LockFraction(Round(3, 12, 0.05), 256), 1.0);
  EXPECT_DOUBLE_EQ(LockFraction(Round(3, 300, 0.8), 256), 1.0);
  // Accuracy up after a round: the budget share only, never negative.
  EXPECT_DOUBLE_EQ(LockFraction(Round(1, 0, 0.95), 256), 0.0);
  // No accuracy to lose (a target at or above the start): the budget share.
  LockRound r = Round(1, 4, 0.5);
  r.target_accuracy = 0.9;
  EXPECT_DOUBLE_EQ(LockFraction(r, 8), 0.5);
  EXPECT_DOUBLE_EQ(LockFraction(r, 0), 0.0);
}

TEST(LockFractionTest, HardenedHalfStatesHalfAttacks) {
  // Start 0.9, accuracy target 0.1, repair target 0.15 (span 0.75).
  LockRound r = Round(2, 8, 0.1);  // the locked state at its target: half
  r.repair_target = 0.15;
  r.reset_accuracy = 0.9;  // reset states not moved: no share yet
  EXPECT_DOUBLE_EQ(LockFraction(r, 1024), 0.5);
  r.reset_accuracy = 0.525;  // half way: a quarter of the attacks' half
  EXPECT_DOUBLE_EQ(LockFraction(r, 1024), 0.5 * (1.0 + 0.25));
  // The first simulated repair, higher than the reset states: the bar does
  // not move back (the reset states' quarter is counted as done).
  r.reset_accuracy = 0.15;
  r.repair_accuracy = 0.8;
  EXPECT_NEAR(LockFraction(r, 1024), 0.5 * (1.0 + 0.5 + 0.5 * 0.1 / 0.75),
              1e-12);
  r.repair_accuracy = 0.15;  // at the repair target: done
  EXPECT_DOUBLE_EQ(LockFraction(r, 1024), 1.0);
  // The budget share still counts when it is larger.
  r.sample_accuracy = 0.5;
  r.repair_accuracy = 0.9;
  r.locked = 1000;
  EXPECT_DOUBLE_EQ(LockFraction(r, 1024), 1000.0 / 1024);
}

TEST(BatchFractionTest, WriteBehindAndFailedItems) {
  // 4 items, budget 10: item 0 locks in 2 rounds and is reported (written);
  // item 1 is refused without a round; item 2 locks; item 3 locks while item
  // 2 is still being written, so item 2's report comes during item 3's lock.
  BatchFraction f(4, 10);
  EXPECT_DOUBLE_EQ(f.fraction(), 0.0);
  EXPECT_EQ(f.current_item(), 0);
  f.OnRound(Round(1, 5, 0.9));  // item 0: half the budget
  EXPECT_EQ(f.current_item(), 1);
  EXPECT_DOUBLE_EQ(f.fraction(), 0.5 / 4);
  f.OnRound(Round(2, 10, 0.9));  // item 0 done locking
  EXPECT_DOUBLE_EQ(f.fraction(), 1.0 / 4);
  f.OnItem(1);  // item 0 written
  EXPECT_EQ(f.current_item(), 0);
  EXPECT_DOUBLE_EQ(f.fraction(), 1.0 / 4);
  f.OnItem(2);  // item 1 refused
  EXPECT_DOUBLE_EQ(f.fraction(), 2.0 / 4);
  f.OnRound(Round(1, 2, 0.9));  // item 2
  EXPECT_EQ(f.current_item(), 3);
  EXPECT_DOUBLE_EQ(f.fraction(), 2.2 / 4);
  f.OnRound(Round(1, 5, 0.9));  // round 1 again: item 3, item 2 is over
  EXPECT_EQ(f.current_item(), 4);
  EXPECT_DOUBLE_EQ(f.fraction(), 3.5 / 4);
  f.OnItem(3);  // item 2 written: item 3 still locking
  EXPECT_EQ(f.current_item(), 4);
  EXPECT_DOUBLE_EQ(f.fraction(), 3.5 / 4);
  f.OnItem(4);
  EXPECT_EQ(f.current_item(), 0);
  EXPECT_DOUBLE_EQ(f.fraction(), 1.0);
}

TEST(BatchFractionTest, EmptyBatchIsDone) {
  EXPECT_DOUBLE_EQ(BatchFraction(0, 10).fraction(), 1.0);
}

}  // namespace
}  // namespace onnx_crypt::cli
