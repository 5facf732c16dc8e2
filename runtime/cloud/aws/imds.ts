/**
 * The EC2 instance metadata service through IMDSv2 (the stack requires v2):
 * a session token (PUT /latest/api/token), then GETs that carry it.
 */
const TOKEN_TTL_SECONDS = 21600;
const REQUEST_TIMEOUT_MS = 2000;

export function imdsEndpoint(): string {
  return process.env.SPOTJOB_IMDS_ENDPOINT || "http://169.254.169.254";
}

export class Imds {
  private token: string | undefined;
  private tokenExpires = 0;

  constructor(private readonly endpoint: string) {}

  private async fetchToken(): Promise<string> {
    const response = await fetch(`${this.endpoint}/latest/api/token`, {
      method: "PUT",
      headers: { "X-aws-ec2-metadata-token-ttl-seconds": String(TOKEN_TTL_SECONDS) },
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    if (!response.ok) throw new Error(`IMDSv2 token: HTTP ${response.status}`);
    this.token = await response.text();
    // Renew well before it lapses.
    this.tokenExpires = Date.now() + (TOKEN_TTL_SECONDS * 1000) / 2;
    return this.token;
  }

  /** The body of a metadata path, or undefined for 404. */
  async get(path: string): Promise<string | undefined> {
    for (let retried = false; ; retried = true) {
      const token = this.token && Date.now() < this.tokenExpires ? this.token : await this.fetchToken();
      const response = await fetch(`${this.endpoint}/latest/meta-data/${path}`, { headers: { "X-aws-ec2-metadata-token": token }, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
      if (response.status === 401 && !retried) {
        this.token = undefined; // expired or revoked: one fresh token, then give up this round
        continue;
      }
      if (response.status === 404) return undefined;
      if (!response.ok) throw new Error(`IMDS ${path}: HTTP ${response.status}`);
      return response.text();
    }
  }
}

