import { STATUS_TEXT } from "../core/errors.ts";

/** A complete `Connection: close` error response, for answering below the Exchange layer. */
export function rawResponse(status: number, extraHeaders: string[] = [], detail?: string): Buffer {
  const text = STATUS_TEXT[status] ?? "Error";
  const body = `${status} ${text}\n${detail ?? ""}`;
  return Buffer.from(
    `HTTP/1.1 ${status} ${text}\r\nContent-Type: text/plain; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\nDate: ${new Date().toUTCString()}\r\n` +
      extraHeaders.map((h) => `${h}\r\n`).join("") +
      `\r\n${body}`,
  );
}
