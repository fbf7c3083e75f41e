/**
 * Log lines in logrus's text format (what the Go CLI writes to stderr):
 * `time="2026-11-25T16:04:12Z" level=debug msg="Root: /tmp/x/root"`.
 *
 * @module
 */

import { goQuote } from "./quote.ts";

/** logrus levels, most severe first. */
export type Level = "panic" | "fatal" | "error" | "warning" | "info" | "debug" | "trace";

const ORDER: Level[] = ["panic", "fatal", "error", "warning", "info", "debug", "trace"];

/** logrus quotes a value unless it is made only of these characters. */
function needsQuoting(text: string): boolean {
  return !/^[A-Za-z0-9\-._/@^+]*$/.test(text);
}

/** RFC 3339 with seconds and the local offset (`Z` for UTC), as Go's time.RFC3339. */
export function rfc3339Seconds(d: Date): string {
  const off = -d.getTimezoneOffset();
  const local = new Date(d.getTime() + off * 60_000);
  const base = local.toISOString().slice(0, 19);
  if (off === 0) return base + "Z";
  const sign = off > 0 ? "+" : "-";
  const a = Math.abs(off);
  return `${base}${sign}${String(Math.floor(a / 60)).padStart(2, "0")}:${String(a % 60).padStart(2, "0")}`;
}

/** Formats one logrus line (with the trailing newline). */
export function formatLogLine(level: Level, msg: string, now = new Date()): string {
  const m = needsQuoting(msg) ? goQuote(msg) : msg;
  return `time="${rfc3339Seconds(now)}" level=${level} msg=${m}\n`;
}

/** A logger writing logrus lines to a text sink, filtered by level. */
export class Logger {
  /** Lines above this level are dropped (logrus starts at info). */
  level: Level = "info";
  private readonly write: (text: string) => Promise<void>;
  constructor(write: (text: string) => Promise<void>) {
    this.write = write;
  }
  /** Writes `msg` if `level` is enabled. */
  async log(level: Level, msg: string): Promise<void> {
    if (ORDER.indexOf(level) <= ORDER.indexOf(this.level)) await this.write(formatLogLine(level, msg));
  }
  /** Debug message. */
  debug(msg: string): Promise<void> {
    return this.log("debug", msg);
  }
  /** Warning message. */
  warn(msg: string): Promise<void> {
    return this.log("warning", msg);
  }
  /** Error message. */
  error(msg: string): Promise<void> {
    return this.log("error", msg);
  }
}
