// Every full card number and CVC the end-to-end tests send; the card-data
// scan looks for each of them.
export const CARDS = {
  visa: '4242424242424242',
  visaDebit: '4000056655665556',
  mastercard: '5555555555554444',
  amex: '378282246310005',
  fr: '4000002500000003',
  declined: '4000000000000002',
  insufficient: '4000000000009995',
  lost: '4000000000009987',
  stolen: '4000000000009979',
  expired: '4000000000000069',
  incorrectCvc: '4000000000000127',
  processingError: '4000000000000119',
  threeDS: '4000002500003155',
  // Checkout.com's fake: 3-D Secure required (09-processors).
  checkout3ds: '4485040371536584',
};
export const CARD_NUMBERS = Object.values(CARDS);
// Distinctive CVCs (never `123`, which is everywhere).
export const CVCS = ['7391', '846', '592', '737'];
