// Starter rule sets for the editor's "Examples" menu. Each is a complete,
// valid rule set (rules.md) that shows one idea.

export const EXAMPLES = [
  {
    id: 'full',
    title: 'Everything together',
    blurb: 'Large EUR credit cards to Adyen, a US 70/30 test, a BIN block.',
    ruleSet: {
      name: 'EU routing',
      rules: [
        {
          name: 'block a leaked BIN range',
          if: { field: 'card.bin', prefix: ['41111199', '555544'] },
          then: { decline: { code: 'do_not_honor', message: 'card blocked by merchant rule' } },
        },
        {
          name: 'large EUR credit cards to Adyen',
          if: {
            all: [
              { field: 'currency', eq: 'eur' },
              { field: 'amount', gte: 10000 },
              { field: 'card.funding', eq: 'credit' },
            ],
          },
          then: { route: ['adyen_eu', 'stripe'] },
        },
        {
          name: 'US cards: 70/30 test',
          if: { field: 'card.country', eq: 'US' },
          then: {
            split: [
              { processor: 'stripe', weight: 70 },
              { processor: 'checkout', weight: 30 },
            ],
            fallback: ['adyen_eu'],
          },
        },
      ],
      default: { route: ['stripe'] },
    },
  },
  {
    id: 'eur',
    title: 'EUR to one processor',
    blurb: 'Every euro payment goes to Adyen, Stripe as the retry.',
    ruleSet: {
      name: 'EUR to Adyen',
      rules: [
        {
          name: 'EUR payments to Adyen',
          if: { field: 'currency', eq: 'eur' },
          then: { route: ['adyen_eu', 'stripe'] },
        },
      ],
      default: { route: ['stripe'] },
    },
  },
  {
    id: 'split',
    title: '70/30 split with a fallback',
    blurb: 'US-issued cards split 70/30 by routing key; Adyen if the pick fails.',
    ruleSet: {
      name: 'US split test',
      rules: [
        {
          name: 'US cards: 70/30 test',
          if: { field: 'card.country', eq: 'US' },
          then: {
            split: [
              { processor: 'stripe', weight: 70 },
              { processor: 'checkout', weight: 30 },
            ],
            fallback: ['adyen_eu', 'stripe'],
          },
        },
      ],
      default: { route: ['stripe', 'adyen_eu'] },
    },
  },
  {
    id: 'bin',
    title: 'Block a BIN range',
    blurb: 'Decline cards from leaked BIN ranges before any processor sees them.',
    ruleSet: {
      name: 'BIN block',
      rules: [
        {
          name: 'block a leaked BIN range',
          if: { field: 'card.bin', prefix: ['41111199', '555544'] },
          then: { decline: { code: 'do_not_honor', message: 'card blocked by merchant rule' } },
        },
      ],
      default: { route: ['stripe'] },
    },
  },
  {
    id: 'mit',
    title: 'Merchant-initiated payments',
    blurb: 'Off-session renewals stay on the processor that holds the stored credential.',
    ruleSet: {
      name: 'Merchant-initiated payments',
      rules: [
        {
          name: 'renewals stay on Stripe',
          if: {
            all: [
              { field: 'off_session', eq: true },
              { field: 'metadata.channel', eq: 'recurring' },
            ],
          },
          then: { route: ['stripe'] },
        },
        {
          name: 'other off-session payments',
          if: { field: 'off_session', eq: true },
          then: { route: ['stripe', 'checkout'] },
        },
      ],
      default: { route: ['adyen_eu', 'stripe'] },
    },
  },
  {
    id: 'auth_rate',
    title: 'Route by authorization rate',
    blurb: 'USD payments to the processor with the best recent authorization rate for cards like it (brand, country, funding); 5% explore; Braintree if it fails. Type or load rates under “Authorization rates”.',
    ruleSet: {
      name: 'By authorization rate',
      rules: [
        {
          name: 'USD by authorization rate',
          if: { field: 'currency', eq: 'usd' },
          then: {
            auth_rate: { processors: ['stripe', 'adyen_eu', 'checkout'], explore: 0.05, min_sample: 100 },
            fallback: ['braintree'],
          },
        },
      ],
      default: { route: ['stripe'] },
    },
  },
];

export const DEFAULT_EXAMPLE = EXAMPLES[0];
