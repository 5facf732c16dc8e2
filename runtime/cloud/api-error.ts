/**
 * A cloud's API refused or could not be reached, with a message that already says what failed and what to do. Each
 * cloud's client throws its own subclass; callers that only report the failure (the supervisor's entry) catch this one
 * and stay blind to which cloud it was.
 */
export class CloudApiError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CloudApiError";
  }
}
