/**
 * A Google API's error answer in one line for a log or an error message, the
 * one form for every Google API spotjob calls (Secret Manager, Compute Engine):
 * `HTTP 403 PERMISSION_DENIED: <message>` from the JSON error body
 * (`{"error": {"code", "message", "status"?}}`,
 * https://cloud.google.com/apis/design/errors#http_mapping). The Compute API's
 * errors carry no `status` (`{"error": {"code", "message", "errors": [{domain,
 * reason, message}]}}`), so theirs read `HTTP 403: <message>`. `fix` adds what
 * the caller's account should do about that HTTP status, when it knows.
 */
export async function apiError(response: Response, fix?: (status: number) => string | undefined): Promise<string> {
  const text = await response.text().catch(() => "");
  let message = text.replace(/\s+/g, " ").trim();
  let status: string | undefined;
  try {
    const body = JSON.parse(text) as { error?: { message?: string; status?: string } };
    if (body.error) ({ message = "", status } = body.error);
  } catch {
    // Not JSON (a proxy's page): the text as it came.
  }
  const hint = fix?.(response.status);
  return `HTTP ${response.status}${status ? ` ${status}` : ""}${message ? `: ${message.slice(0, 300)}` : ""}${hint ? `; ${hint}` : ""}`;
}

/** Why a request got no answer at all, in a few words: the system's code (ECONNREFUSED), or a timeout. */
export function describeFetchError(e: unknown): string {
  const err = e as Error & { cause?: { code?: string; message?: string } };
  if (err.name === "TimeoutError" || err.name === "AbortError") return "no answer in time";
  return err.cause?.code ?? err.cause?.message ?? err.message;
}
