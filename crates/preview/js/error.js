// The error the binding throws for an invalid rule set or payment.
export class SwitchyardError extends Error {
  constructor(message, issues) {
    super(message);
    this.name = 'SwitchyardError';
    this.issues = issues;
  }
}

export function makeError(message, issues) {
  return new SwitchyardError(message, issues);
}

// JSON.stringify that reports failure (cycles, BigInt) as undefined.
export function toJsonText(value) {
  try {
    return JSON.stringify(value);
  } catch (_) {
    return undefined;
  }
}
