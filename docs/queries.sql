-- The queries of the README's Storage section (a test checks that both say the same).
-- today's confirmed fraud by typology (ground-truth labels that have arrived so far)
SELECT coalesce(l.typology, 'unknown') AS typology, count(*) AS transactions,
       round(sum(t.amount_usd)::numeric, 2) AS usd
FROM labels l JOIN scored_transactions t USING (tx_id)
WHERE l.is_fraud AND l.source = 'ground_truth' AND t.stored_at >= current_date
GROUP BY 1 ORDER BY 2 DESC;

-- the alert queue: the last hour's flagged transactions, highest score first
SELECT tx_id, sender_address, receiver_address, round(amount_usd::numeric, 2) AS usd,
       round(score::numeric, 3) AS score, reasons
FROM scored_transactions
WHERE predicted_fraud AND stored_at > now() - interval '1 hour'
ORDER BY score DESC LIMIT 20;

-- how the model does on the labels that have arrived: precision and recall per model version
SELECT t.model_version,
       count(*) FILTER (WHERE t.predicted_fraud) AS alerts,
       count(*) FILTER (WHERE t.predicted_fraud AND l.is_fraud) AS true_alerts,
       count(*) FILTER (WHERE l.is_fraud) AS labelled_fraud,
       round(count(*) FILTER (WHERE t.predicted_fraud AND l.is_fraud)::numeric
             / nullif(count(*) FILTER (WHERE t.predicted_fraud), 0), 3) AS precision,
       round(count(*) FILTER (WHERE t.predicted_fraud AND l.is_fraud)::numeric
             / nullif(count(*) FILTER (WHERE l.is_fraud), 0), 3) AS recall
FROM scored_transactions t LEFT JOIN labels l ON l.tx_id = t.tx_id AND l.source = 'ground_truth'
GROUP BY 1 ORDER BY 1;

-- the wallets that sent the most flagged value
SELECT sender_address, count(*) AS alerts, round(sum(amount_usd)::numeric, 2) AS usd
FROM scored_transactions WHERE predicted_fraud
GROUP BY 1 ORDER BY 3 DESC LIMIT 10;
