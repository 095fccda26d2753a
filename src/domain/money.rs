//! Unit prices an admin enters per SKU, and the monthly costs derived from them. Amounts are
//! decimals end to end (stored as text, computed with `rust_decimal`) so no cent is lost to a
//! float, and currencies are never converted into one another.

use std::collections::BTreeMap;

use rust_decimal::{Decimal, RoundingStrategy};

use crate::error::{Error, Result};

/// Licenses are billed per month or per year.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Period {
    Month,
    Year,
}

impl Period {
    pub fn as_str(self) -> &'static str {
        match self {
            Period::Month => "MONTH",
            Period::Year => "YEAR",
        }
    }

    fn parse(value: &str) -> Option<Self> {
        match value {
            "MONTH" => Some(Period::Month),
            "YEAR" => Some(Period::Year),
            _ => None,
        }
    }
}

/// The price of one seat.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Price {
    pub amount: Decimal,
    /// ISO-4217, upper case.
    pub currency: String,
    pub period: Period,
}

/// Up to a trillion per seat, to the ten-thousandth: beyond either, the input is a typo.
const MAX_AMOUNT: Decimal = Decimal::from_parts(3_567_587_328, 232, 0, false, 0); // 10^12
const MAX_SCALE: u32 = 4;
/// Monthly figures are shown to the cent after summing, so rounding never compounds.
const SHOWN_SCALE: u32 = 2;

impl Price {
    /// What one seat costs per month: a yearly price is divided by 12.
    pub fn monthly(&self) -> Decimal {
        match self.period {
            Period::Month => self.amount,
            Period::Year => self.amount / Decimal::from(12),
        }
    }

    /// Reads a stored price; a half-set or unreadable one is corrupt data, not a missing price.
    pub fn from_columns(
        amount: Option<&str>,
        currency: Option<&str>,
        period: Option<&str>,
    ) -> Result<Option<Self>> {
        match (amount, currency, period) {
            (None, None, None) => Ok(None),
            (Some(amount), Some(currency), Some(period)) => {
                let corrupt = || Error::Corrupt(format!("price {amount:?} {currency} {period}"));
                Ok(Some(Self {
                    amount: amount.parse().map_err(|_| corrupt())?,
                    currency: currency.to_owned(),
                    period: Period::parse(period).ok_or_else(corrupt)?,
                }))
            }
            _ => Err(Error::Corrupt("a price with missing parts".into())),
        }
    }

    /// Checks what an admin typed; every bad field is reported at once.
    pub fn parse(amount: &str, currency: &str, period: Period) -> Result<Self> {
        let mut validator = super::validation::Validator::default();
        let amount = validator.check("price.amount", parse_amount(amount));
        let currency = validator.check("price.currency", parse_currency(currency));
        validator.finish()?;
        let (Some(amount), Some(currency)) = (amount, currency) else {
            unreachable!("the validator refuses missing fields");
        };
        Ok(Self {
            amount,
            currency,
            period,
        })
    }
}

fn parse_amount(text: &str) -> std::result::Result<Decimal, String> {
    let text = text.trim();
    let well_formed = !text.is_empty()
        && text.chars().all(|c| c.is_ascii_digit() || c == '.')
        && text.matches('.').count() <= 1
        && !text.starts_with('.')
        && !text.ends_with('.');
    let amount = well_formed
        .then(|| text.parse::<Decimal>().ok())
        .flatten()
        .ok_or_else(|| "is not a decimal amount such as 12.50".to_owned())?;
    if amount.scale() > MAX_SCALE {
        return Err(format!("at most {MAX_SCALE} decimal places"));
    }
    if amount >= MAX_AMOUNT {
        return Err("must be less than 1000000000000".into());
    }
    Ok(amount.normalize())
}

fn parse_currency(text: &str) -> std::result::Result<String, String> {
    let text = text.trim();
    if text.len() == 3 && text.chars().all(|c| c.is_ascii_uppercase()) {
        Ok(text.to_owned())
    } else {
        Err("is not an ISO-4217 currency code (three upper-case letters, e.g. EUR)".into())
    }
}

/// Shows an amount rounded to the cent, e.g. `8.33` for 100 a year.
pub fn shown(amount: Decimal) -> String {
    let mut rounded =
        amount.round_dp_with_strategy(SHOWN_SCALE, RoundingStrategy::MidpointAwayFromZero);
    rounded.rescale(SHOWN_SCALE);
    rounded.to_string()
}

/// Sums per currency, never across currencies. Ordered by currency code for stable output.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Costs(BTreeMap<String, Decimal>);

impl Costs {
    pub fn add(&mut self, currency: &str, amount: Decimal) {
        *self.0.entry(currency.to_owned()).or_default() += amount;
    }

    pub fn merge(&mut self, other: &Costs) {
        for (currency, amount) in &other.0 {
            self.add(currency, *amount);
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, Decimal)> {
        self.0
            .iter()
            .map(|(currency, amount)| (currency.as_str(), *amount))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_constant_is_a_trillion() {
        assert_eq!(MAX_AMOUNT, Decimal::from(1_000_000_000_000_i64));
    }

    #[test]
    fn amounts_are_decimals_with_few_places() {
        assert_eq!(parse_amount(" 12.50 "), Ok("12.5".parse().unwrap()));
        assert_eq!(parse_amount("0"), Ok(Decimal::ZERO));
        for bad in [
            "", "-1", "1e3", "12,50", ".5", "5.", "1.23456", "NaN", "1.2.3",
        ] {
            assert!(parse_amount(bad).is_err(), "{bad}");
        }
        assert!(parse_amount("1000000000000").is_err());
    }

    #[test]
    fn currencies_are_three_upper_case_letters() {
        assert_eq!(parse_currency("EUR"), Ok("EUR".into()));
        for bad in ["eur", "EURO", "E1R", ""] {
            assert!(parse_currency(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn yearly_prices_are_divided_by_twelve_and_shown_to_the_cent() {
        let price = Price::parse("100", "USD", Period::Year).expect("valid");
        assert_eq!(shown(price.monthly()), "8.33");
        let mut costs = Costs::default();
        for _ in 0..3 {
            costs.add("USD", price.monthly());
        }
        costs.add("EUR", "36".parse().unwrap());
        let shown_costs: Vec<(String, String)> = costs
            .iter()
            .map(|(currency, amount)| (currency.to_owned(), shown(amount)))
            .collect();
        // Summed before rounding: 3 × 8.333… = 25.00, not 3 × 8.33 = 24.99.
        assert_eq!(
            shown_costs,
            [
                ("EUR".into(), "36.00".into()),
                ("USD".into(), "25.00".into())
            ]
        );
    }
}
