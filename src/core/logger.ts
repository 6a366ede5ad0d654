/** Structured JSON-lines logging through a logger that is passed in, never a global. */
export type Level = "debug" | "info" | "warn" | "error";
const RANK: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type Fields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
  child(fields: Fields): Logger;
}

export type Sink = (line: string) => void;

/** The root logger: its level (shared by its children) follows the config. */
export interface RootLogger extends Logger {
  setLevel(level: Level): void;
}

/** A logger writing one JSON object per line to `sink` (stderr by default). */
export function createLogger(options: { level?: Level; sink?: Sink; fields?: Fields } = {}): RootLogger {
  let min = RANK[options.level ?? "info"];
  const sink = options.sink ?? ((line: string) => process.stderr.write(line));
  const make = (base: Fields): Logger => {
    const emit = (level: Level, msg: string, fields?: Fields) => {
      if (RANK[level] < min) return;
      const record: Fields = { time: new Date().toISOString(), level, msg, ...base, ...fields };
      sink(`${JSON.stringify(record, errorReplacer)}\n`);
    };
    return {
      debug: (m, f) => emit("debug", m, f),
      info: (m, f) => emit("info", m, f),
      warn: (m, f) => emit("warn", m, f),
      error: (m, f) => emit("error", m, f),
      child: (fields) => make({ ...base, ...fields }),
    };
  };
  return Object.assign(make(options.fields ?? {}), {
    setLevel(level: Level) {
      min = RANK[level];
    },
  });
}

function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) {
    const out: Fields = { name: value.name, message: value.message };
    const code = (value as { code?: unknown }).code;
    if (code !== undefined) out.code = code;
    if (value.stack) out.stack = value.stack;
    return out;
  }
  if (typeof value === "bigint") return value.toString();
  return value;
}

/** A logger that drops everything (tests and tools that want silence). */
export const silentLogger: Logger = createLogger({ sink: () => {} });
